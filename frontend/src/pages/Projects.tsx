import { useEffect, useState } from "react";
import { api, Me, Project } from "../api";
import { Link } from "../router";

export function ProjectsPage({ me }: { me: Me }) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  useEffect(() => {
    api<{ results: Project[] } | Project[]>("GET", "/api/projects/").then((d) =>
      setProjects(Array.isArray(d) ? d : d.results),
    );
  }, []);
  if (!projects) return <p>Loading projects…</p>;
  return (
    <section>
      <h1>Your projects</h1>
      {projects.length === 0 && <p>You are not a member of any project yet, {me.username}.</p>}
      <div className="project-list">
        {projects.map((p) => (
          <div className="card project" key={p.id} data-project={p.id}>
            <h2>{p.name}</h2>
            <p className="muted">{p.description}</p>
            <p>
              <strong className="open-tasks">{p.open_tasks ?? 0}</strong> open tasks
              {p.my_active_assignments ? ` · ${p.my_active_assignments} in progress by you` : ""} · role{" "}
              <span className="badge">{p.my_role ?? (me.is_staff ? "staff" : "—")}</span>
            </p>
            <div className="actions">
              <Link to={`/projects/${p.id}/work`} className="button primary">
                Start labeling
              </Link>
              <Link to={`/projects/${p.id}/guidelines`} className="button">
                Guidelines
              </Link>
              {(p.my_role === "reviewer" || p.my_role === "admin") && (
                <Link to={`/projects/${p.id}/review`} className="button">
                  Review
                </Link>
              )}
              {p.my_role === "admin" && (
                <Link to={`/projects/${p.id}/dashboard`} className="button">
                  Dashboard
                </Link>
              )}
            </div>
          </div>
        ))}
      </div>
    </section>
  );
}
