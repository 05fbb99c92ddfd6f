// Render maths with the real KaTeX: reads [{"tex": "...", "display": true}, ...]
// as JSON on stdin, prints a JSON list of the failures [{"index", "tex", "error"}].
// The folder holding node_modules/katex is the first argument.
"use strict";
const path = require("path");
const katex = require(path.join(path.resolve(process.argv[2]), "node_modules", "katex"));
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const failures = [];
  JSON.parse(input).forEach((item, index) => {
    try {
      // strict "error": KaTeX's warnings (unicode text in maths, LaTeX-incompatible input) fail too
      katex.renderToString(item.tex, {displayMode: item.display, throwOnError: true, strict: "error"});
    } catch (error) {
      failures.push({index: index, tex: item.tex, error: String(error.message || error)});
    }
  });
  process.stdout.write(JSON.stringify(failures));
});
