import { useEffect, useState } from "react";
import { api, Me, Project, type Schemas } from "../api";
import { Link } from "../router";
import { WorkPage } from "./Work";
import { GuidelinesPage } from "./Guidelines";
import { AgreementPage } from "./Agreement";
import { RunsPage } from "./Runs";
import { GenerationPage } from "./Generation";
import { RoundsPage } from "./Rounds";
import { AuditPage } from "./Audit";
import { DashboardPage, ImportPage, MembersPage, SettingsPage } from "./Admin";
import { ReviewPage } from "./Review";

type Role = Schemas["RoleEnum"];
const RANK: Record<Role, number> = { labeler: 1, reviewer: 2, admin: 3 };

// A project's pages, one tab each, shown to the roles that may use them. Later pages (agreement, exports,
// training runs) slot in with one line here and one component.
export const PROJECT_TABS: { path: string; label: string; minRole: Role }[] = [
  { path: "work", label: "Label", minRole: "labeler" },
  { path: "guidelines", label: "Guidelines", minRole: "labeler" },
  { path: "review", label: "Review", minRole: "reviewer" },
  { path: "dashboard", label: "Dashboard", minRole: "admin" },
  { path: "agreement", label: "Agreement", minRole: "reviewer" },
  { path: "runs", label: "Data & runs", minRole: "admin" },
  { path: "generation", label: "Generation", minRole: "admin" },
  { path: "rounds", label: "Rounds", minRole: "reviewer" },
  { path: "imports", label: "Import", minRole: "admin" },
  { path: "members", label: "Members", minRole: "admin" },
  { path: "settings", label: "Settings", minRole: "admin" },
  { path: "audit", label: "Audit log", minRole: "admin" },
];

export function ProjectShell({ projectId, tab, me }: { projectId: number; tab: string; me: Me }) {
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<Project>("GET", `/api/projects/${projectId}/`).then(setProject, (e) => setError(String(e.message ?? e)));
  }, [projectId]);
  if (error) return <p className="error">{error}</p>;
  if (!project) return <p>Loading…</p>;
  const role = (project.my_role ?? "admin") as Role; // site superusers act as admins
  const tabs = PROJECT_TABS.filter((t) => RANK[role] >= RANK[t.minRole]);
  const allowed = tabs.some((t) => t.path === tab);
  let page: React.ReactNode = <p className="error">This page needs a role you do not have in this project.</p>;
  if (allowed) {
    if (tab === "work") page = <WorkPage projectId={projectId} />;
    else if (tab === "guidelines") page = <GuidelinesPage projectId={projectId} me={me} />;
    else if (tab === "review") page = <ReviewPage projectId={projectId} />;
    else if (tab === "dashboard") page = <DashboardPage projectId={projectId} />;
    else if (tab === "agreement") page = <AgreementPage projectId={projectId} />;
    else if (tab === "runs") page = <RunsPage projectId={projectId} />;
    else if (tab === "generation") page = <GenerationPage project={project} />;
    else if (tab === "rounds") page = <RoundsPage projectId={projectId} isAdmin={role === "admin"} />;
    else if (tab === "imports") page = <ImportPage projectId={projectId} />;
    else if (tab === "members") page = <MembersPage projectId={projectId} />;
    else if (tab === "audit") page = <AuditPage projectId={projectId} />;
    else if (tab === "settings") page = <SettingsPage project={project} onSaved={setProject} />;
  }
  return (
    <div>
      <div className="project-head">
        <h1 className="project-name">{project.name}</h1>
        <nav className="tabs" aria-label="Project pages">
          {tabs.map((t) => (
            <Link
              key={t.path}
              to={`/projects/${projectId}/${t.path}`}
              className={"tab" + (t.path === tab ? " active" : "")}
              current={t.path === tab}
            >
              {t.label}
            </Link>
          ))}
        </nav>
      </div>
      {page}
    </div>
  );
}
