import { render } from "preact";
import { App } from "./App";
import { ErrorBoundary } from "./components/common";
import "./style.css";

const root = document.getElementById("app")!;
root.textContent = "";
render(
  <ErrorBoundary>
    <App />
  </ErrorBoundary>,
  root,
);

// Errors outside rendering (a failed promise in an event handler) still tell the person something.
window.addEventListener("unhandledrejection", (event) => {
  console.error("Unhandled", event.reason);
});
