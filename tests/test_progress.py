"""The progress bar draws on a terminal and stays silent anywhere else."""

import io

from symderive import derive
from symderive.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_sees_the_bar_finish():
    stream = Terminal()
    derive(n=3, m=2, d=4, progress=Progress(stream))
    text = stream.getvalue()
    assert "dY/dX" in text and "dY/dW" in text and "100.0%" in text and text.endswith("\n")


def test_a_pipe_sees_nothing():
    stream = io.StringIO()
    derive(n=3, m=2, d=4, progress=Progress(stream))
    assert stream.getvalue() == ""


def test_a_bar_left_unfinished_is_ended_by_close():
    stream = Terminal()
    bar = Progress(stream)
    bar("dY/dX", 1, 4)
    assert not stream.getvalue().endswith("\n")
    bar.close()
    assert stream.getvalue().endswith("\n")
    bar.close()  # nothing more to end
    assert stream.getvalue().count("\n") == 1


def test_close_after_a_finished_bar_adds_nothing():
    stream = Terminal()
    derive(n=3, m=2, d=4, progress=(bar := Progress(stream)))
    text = stream.getvalue()
    bar.close()
    assert stream.getvalue() == text
