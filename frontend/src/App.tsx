import { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useSignalEffect } from "@preact/signals";
import { tokens, logout } from "./lib/auth";
import { connect, currentUser, disconnect, status, statusMessage } from "./lib/hub";
import { navigate, pathname } from "./lib/router";
import { ErrorBoundary, Link, Spinner } from "./components/common";
import { canManage, role } from "./lib/roles";
import { homeId, manyHomes } from "./lib/homes";
import { CurrentHomeName, HomeSwitcher } from "./components/HomeSwitcher";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";

/** Load a page's code only when it is first opened (charts and the editor are the heavy parts). */
function lazyPage(load: () => Promise<{ default: ComponentType<any> }>): ComponentType<any> {
  let loaded: ComponentType<any> | null = null;
  return function LazyPage(props: any) {
    const [page, setPage] = useState<ComponentType<any> | null>(() => loaded);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (loaded) return;
      load().then(
        (module) => {
          loaded = module.default;
          setPage(() => module.default);
        },
        (err) => setError(err),
      );
    }, []);
    if (error) throw error instanceof Error ? error : new Error(String(error));
    const Page = page;
    return Page ? <Page {...props} /> : <Spinner label="Loading page" />;
  };
}

const History = lazyPage(() => import("./pages/History"));
const Automations = lazyPage(() => import("./pages/Automations"));
const Scripts = lazyPage(() => import("./pages/Scripts"));
const Devices = lazyPage(() => import("./pages/Devices"));
const Users = lazyPage(() => import("./pages/Users"));
const AddDevice = lazyPage(() => import("./pages/AddDevice"));
const Energy = lazyPage(() => import("./pages/Energy"));
const Notifications = lazyPage(() => import("./pages/Notifications"));
const Scenes = lazyPage(() => import("./pages/Scenes"));
const Schedules = lazyPage(() => import("./pages/Schedules"));

interface Route {
  path: string;
  label: string;
  page: ComponentType<any>;
  adminOnly?: boolean;
}

const ROUTES: Route[] = [
  { path: "/", label: "Dashboard", page: Dashboard },
  { path: "/history", label: "History", page: History },
  { path: "/energy", label: "Energy", page: Energy },
  { path: "/automations", label: "Automations", page: Automations },
  { path: "/scripts", label: "Scripts", page: Scripts },
  { path: "/scenes", label: "Scenes", page: Scenes },
  { path: "/schedules", label: "Schedules", page: Schedules },
  { path: "/notifications", label: "Notifications", page: Notifications },
  { path: "/devices", label: "Devices", page: Devices },
  { path: "/add-device", label: "Add device", page: AddDevice, adminOnly: true },
  { path: "/users", label: "Users", page: Users, adminOnly: true },
];

function matchRoute(current: string): Route | undefined {
  return ROUTES.find((route) => (route.path === "/" ? current === "/" : current === route.path || current.startsWith(route.path + "/")));
}

function ConnectionBanner() {
  const value = status.value;
  if (value === "connected" || value === "idle") return null;
  const text =
    value === "connecting"
      ? "Connecting to the hub…"
      : value === "reconnecting"
        ? "Connection lost; reconnecting…"
        : statusMessage.value || "Not connected to the hub.";
  return (
    <div class={`banner banner-${value}`} role="status" data-testid="connection-banner">
      {text}
    </div>
  );
}

/** What a role may do, for the badge's tooltip. */
const ROLE_TEXT: Record<string, string> = {
  owner: "You manage this home and its users",
  admin: "You manage this home",
  user: "You can switch and run things, not change the setup",
  "read-only": "You can look, not change",
};

/** The user's role: shown for read-only users, and for everyone with several homes (it differs between them). */
function RoleBadge() {
  const current = role.value;
  if (current === null || (current !== "read-only" && !manyHomes.value)) return null;
  return (
    <span class={`badge role role-${current}`} title={ROLE_TEXT[current]} data-testid="role-badge">
      {current}
    </span>
  );
}

/** The top bar: brand, the home switcher (users with several homes), the pages (a menu on phones), the user. */
function TopBar(props: { route: Route | undefined; userName?: string }) {
  const [open, setOpen] = useState(false);
  const manage = canManage.value;
  const here = pathname();
  const home = homeId.value;
  useEffect(() => setOpen(false), [here, home]);
  useEffect(() => {
    if (!open) return;
    const close = (event: KeyboardEvent) => event.key === "Escape" && setOpen(false);
    window.addEventListener("keydown", close);
    return () => window.removeEventListener("keydown", close);
  }, [open]);
  return (
    <header class={`topbar${open ? " menu-open" : ""}${manyHomes.value ? " many-homes" : ""}`} onKeyDown={(event) => event.key === "Escape" && setOpen(false)}>
      <span class="brand">Hub</span>
      <CurrentHomeName />
      <button
        type="button"
        class="menu-button secondary"
        aria-expanded={open}
        aria-controls={manyHomes.value ? "home-switcher main-nav" : "main-nav"}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">☰</span> Menu
        {props.route ? <span class="menu-current"> · {props.route.label}</span> : null}
      </button>
      {/* Users with several homes choose one here before the pages (inside the menu on a phone, above them). */}
      <div class="topbar-slot" id="home-switcher" data-slot="home-switcher">
        <HomeSwitcher />
      </div>
      <nav id="main-nav" aria-label="Main">
        <ul>
          {ROUTES.filter((r) => !r.adminOnly || manage).map((r) => (
            <li key={r.path}>
              <Link href={r.path} aria-current={props.route === r ? "page" : undefined}>
                {r.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div class="topbar-end">
        <span class="user">
          {props.userName ? <span class="user-name">{props.userName}</span> : null}
          <RoleBadge />
          <button type="button" class="link-button" onClick={() => logout()}>
            Log out
          </button>
        </span>
      </div>
    </header>
  );
}

export function App() {
  const loggedIn = tokens.value !== null;
  useSignalEffect(() => {
    if (tokens.value) connect();
    else disconnect();
  });

  if (!loggedIn) return <Login />;
  const current = pathname();
  if (current === "/login") {
    navigate("/", true);
  }
  const route = matchRoute(current);
  const user = currentUser.value;
  const Page = route?.page;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <TopBar route={route} userName={user?.name} />
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        {/* A page starts afresh in another home: nothing of the previous home's stays on screen. */}
        <ErrorBoundary key={`${homeId.value ?? ""} ${route?.path ?? "none"}`} area={route?.label}>
          {Page ? (
            <Page />
          ) : (
            <section>
              <h1>Page not found</h1>
              <p>
                <Link href="/">Go to the dashboard</Link>
              </p>
            </section>
          )}
        </ErrorBoundary>
      </main>
    </div>
  );
}
