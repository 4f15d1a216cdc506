// The playground's code editor: CodeMirror 6 from npm, bundled by build/editor_bundle.py into the
// site as playground/codemirror.js (one self-contained ES module; nothing from a CDN).

import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { javascript, javascriptLanguage } from "@codemirror/lang-javascript";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

const LANGUAGES = { python, javascript };

/**
 * An editor in `parent`. Tab indents; Escape then Tab leaves the editor (CodeMirror's rule for keyboard users).
 * @param {HTMLElement} parent
 * @param {{language: "python"|"javascript", doc?: string, label: string, describedBy?: string,
 *   onChange?: (text: string) => void}} options
 */
export function createCodeEditor(parent, { language, doc = "", label, describedBy, onChange }) {
  const attributes = { "aria-label": label, ...(describedBy ? { "aria-describedby": describedBy } : {}) };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [basicSetup, keymap.of([indentWithTab]), LANGUAGES[language](), lintGutter(),
        EditorView.contentAttributes.of(attributes),
        EditorView.updateListener.of((update) => { if (update.docChanged) onChange?.(update.state.doc.toString()); })],
    }),
  });
  return {
    view,
    get value() { return view.state.doc.toString(); },
    set value(text) { view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }); },
    /** Problems to mark, each at its 1-based line: [{line, message, severity: "error"|"warning"}]. */
    showProblems(problems) {
      const { doc: text } = view.state;
      const diagnostics = problems.map(({ line, message, severity = "error" }) => {
        const at = text.line(Math.min(Math.max(1, line || 1), text.lines));
        const indent = at.text.length - at.text.trimStart().length; // underline the code, not its indentation
        return { from: Math.min(at.from + indent, at.to), to: at.to, message, severity };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    focus() { view.focus(); },
  };
}

/** The 1-based line of the first syntax error CodeMirror's JavaScript parser finds, or null. */
export function firstJavaScriptErrorLine(text) {
  let at = null;
  javascriptLanguage.parser.parse(text).iterate({
    enter(node) {
      if (at === null && node.type.isError) at = node.from;
      return at === null;
    },
  });
  return at === null ? null : text.slice(0, at).split("\n").length;
}
