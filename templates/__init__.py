# Makes templates/ importable as symderive.templates once installed (see
# pyproject.toml), so importlib.resources can find the .tex.j2 files in a wheel.
