import { Component, ComponentChildren } from "preact";
import { navigate } from "../lib/router";
import { NotAvailable } from "../lib/hub";

export function Link(props: { href: string; class?: string; children: ComponentChildren; "aria-current"?: "page" | undefined }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props["aria-current"]}
      onClick={(event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

/** Shown where the hub lacks the backend a page needs. */
export function NotAvailableNotice(props: { what: string; detail?: string }) {
  return (
    <div class="notice" role="status" data-testid="not-available">
      <strong>{props.what} is not available on this hub.</strong>
      {props.detail ? <p>{props.detail}</p> : null}
    </div>
  );
}

export function ErrorText(props: { error: unknown; what?: string }) {
  if (!props.error) return null;
  if (props.error instanceof NotAvailable && props.what) return <NotAvailableNotice what={props.what} detail={props.error.message} />;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Spinner(props: { label?: string }) {
  return (
    <span class="spinner" role="status" aria-label={props.label ?? "Loading"}>
      <span aria-hidden="true" />
    </span>
  );
}

interface BoundaryState {
  error: Error | null;
}

/** Never a blank page: a render error becomes a message with a way out. */
export class ErrorBoundary extends Component<{ children: ComponentChildren; area?: string }, BoundaryState> {
  state: BoundaryState = { error: null };

  static getDerivedStateFromError(error: Error): BoundaryState {
    return { error };
  }

  componentDidCatch(error: Error): void {
    console.error("UI error", error);
  }

  render() {
    if (this.state.error) {
      return (
        <div class="crash" role="alert">
          <h2>Something went wrong{this.props.area ? ` on the ${this.props.area} page` : ""}.</h2>
          <p>
            <code>{String(this.state.error.message || this.state.error)}</code>
          </p>
          <p>
            <button type="button" onClick={() => this.setState({ error: null })}>
              Try again
            </button>{" "}
            <button type="button" onClick={() => location.reload()}>
              Reload the page
            </button>
          </p>
        </div>
      );
    }
    return this.props.children;
  }
}

export function formatTime(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === "") return "never";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString();
}

export function relativeTime(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === "") return "never";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (Number.isNaN(seconds)) return String(value);
  if (Math.abs(seconds) < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 24) return `${hours} h ago`;
  return date.toLocaleDateString();
}
