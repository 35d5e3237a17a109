// The project's audit trail, for its admins: who changed settings, members, guidelines, imported, exported,
// started or cancelled runs, made tokens or reviewed, and when. Everything is rendered as text.
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";

type Page = Schemas["PaginatedAuditEventList"];

const ACTIONS = [
  "project.create",
  "project.update",
  "member.set",
  "member.remove",
  "guideline.publish",
  "import",
  "token.create",
  "token.revoke",
  "snapshot.create",
  "snapshot.download",
  "model.register",
  "run.create",
  "run.cancel",
  "review",
];

export function AuditPage({ projectId }: { projectId: number }) {
  const [action, setAction] = useState("");
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const query = new URLSearchParams({ page: String(page) });
    if (action) query.set("action", action);
    api<Page>("GET", `/api/projects/${projectId}/audit/?${query}`).then(
      (d) => {
        setData(d);
        setError("");
      },
      (e) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, [projectId, action, page]);
  return (
    <div className="audit">
      <div className="inline-form">
        <label>
          Action{" "}
          <select
            value={action}
            onChange={(e) => {
              setAction(e.target.value);
              setPage(1);
            }}
          >
            <option value="">all</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        {data && <span className="muted">{data.count} events</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {data && (
        <table className="table audit-events">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Details</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {data.results.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.created_at).toLocaleString()}</td>
                <td>{e.actor ? e.actor.username : "system"}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.target_type ? `${e.target_type} ${e.target_id}` : ""}</td>
                <td>
                  <code className="details">{JSON.stringify(e.details)}</code>
                </td>
                <td>{e.ip ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && (data.previous || data.next) && (
        <div className="inline-form">
          <button disabled={!data.previous} onClick={() => setPage(page - 1)}>
            Newer
          </button>
          <span>page {page}</span>
          <button disabled={!data.next} onClick={() => setPage(page + 1)}>
            Older
          </button>
        </div>
      )}
    </div>
  );
}
