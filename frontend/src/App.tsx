import { useCallback, useEffect, useState } from "react";
import { api, ApiError, Me, resetCsrf } from "./api";
import { Link, match, navigate, usePath } from "./router";
import { LoginPage } from "./pages/Login";
import { ProjectsPage } from "./pages/Projects";
import { ProjectShell } from "./pages/ProjectShell";
import { HistoryPage } from "./pages/History";
import { RevisePage } from "./pages/Revise";

export function App() {
  const path = usePath();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const loadMe = useCallback(async () => {
    try {
      setMe(await api<Me>("GET", "/api/auth/me"));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setMe(null);
      else throw e;
    }
  }, []);
  useEffect(() => {
    loadMe();
  }, [loadMe]);

  if (me === undefined)
    return (
      <main className="loading" aria-busy="true">
        Loading…
      </main>
    );
  if (me === null)
    return (
      <main>
        <LoginPage onSignedIn={loadMe} />
      </main>
    );

  const signOut = async () => {
    await api("POST", "/api/auth/logout");
    resetCsrf();
    setMe(null);
    navigate("/");
  };

  let page: React.ReactNode = <ProjectsPage me={me} />;
  let m: Record<string, string> | null;
  if ((m = match("/projects/:id/:tab", path)))
    page = <ProjectShell projectId={Number(m.id)} tab={m.tab} me={me} key={m.id + m.tab} />;
  else if (match("/history", path)) page = <HistoryPage />;
  else if ((m = match("/revise/:id", path))) page = <RevisePage assignmentId={Number(m.id)} key={m.id} />;

  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          Annotate
        </Link>
        <nav aria-label="Main">
          <Link to="/" current={path === "/"}>
            Projects
          </Link>
          <Link to="/history" current={path === "/history"}>
            My history
          </Link>
        </nav>
        <span className="who">
          {me.username}{" "}
          <button className="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main>{page}</main>
    </div>
  );
}
