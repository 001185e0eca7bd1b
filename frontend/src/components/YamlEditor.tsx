import { useEffect, useRef } from "preact/hooks";
import { EditorView, basicSetup } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { Diagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";

export interface Problem {
  line: number | null;
  key?: string;
  message: string;
}

/** A CodeMirror 6 YAML editor whose problems are marked at their lines. */
export function YamlEditor(props: { value: string; onChange: (text: string) => void; problems: Problem[]; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  useEffect(() => {
    const editor = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          EditorView.contentAttributes.of({ "aria-label": props.label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) onChange.current(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => editor.destroy();
  }, []);

  // Replace the text when the page loads a different automation (not on every keystroke).
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== props.value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: props.value } });
    }
  }, [props.value]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const doc = editor.state.doc;
    const diagnostics: Diagnostic[] = props.problems.map((problem) => {
      const line = doc.line(Math.min(Math.max(problem.line ?? 1, 1), doc.lines));
      return { from: line.from, to: line.to, severity: "error", message: problem.message };
    });
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
  }, [props.problems]);

  return <div class="editor" ref={host} />;
}
