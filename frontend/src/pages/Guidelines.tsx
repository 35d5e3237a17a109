import { useEffect, useRef, useState } from "react";
import { api, ApiError, Guideline, Me, Project, type Schemas } from "../api";
import { Markdown } from "../markdown";

function flagsToText(flags: Guideline["flags"]): string {
  return flags.map((f) => `${f.key} | ${f.label}`).join("\n");
}

function textToFlags(text: string): Guideline["flags"] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [key, ...rest] = l.split("|");
      return { key: key.trim(), label: (rest.join("|").trim() || key.trim()) };
    });
}

/** Annotations made under one guideline version (GET …/guidelines/usage/, reviewers and admins). */
type Usage = Schemas["GuidelineUsage"];

export function GuidelinesPage({ projectId, me }: { projectId: number; me: Me }) {
  const [project, setProject] = useState<Project | null>(null);
  const [versions, setVersions] = useState<Guideline[]>([]);
  const [usage, setUsage] = useState<Record<number, Usage> | null>(null);
  const [body, setBody] = useState("");
  const [criteria, setCriteria] = useState("");
  const [scaleName, setScaleName] = useState("Overall quality");
  const [scaleMin, setScaleMin] = useState(1);
  const [scaleMax, setScaleMax] = useState(7);
  const [labels, setLabels] = useState("");
  const [flags, setFlags] = useState("");
  const [message, setMessage] = useState("");
  const [errors, setErrors] = useState<string[]>([]);

  const edited = useRef(false);

  // Prefill the form from the current version, unless the admin has started editing (never overwrite edits).
  const load = async () => {
    const p = await api<Project>("GET", `/api/projects/${projectId}/`);
    setProject(p);
    const list = await api<{ results: Guideline[] } | Guideline[]>("GET", `/api/projects/${projectId}/guidelines/`);
    const all = Array.isArray(list) ? list : list.results;
    setVersions(all);
    if (p.my_role === "admin" || p.my_role === "reviewer") {
      const rows = await api<Usage[]>("GET", `/api/projects/${projectId}/guidelines/usage/`);
      setUsage(Object.fromEntries(rows.map((u) => [u.version, u])));
    }
    const current = all[0];
    if (current && !edited.current) {
      setBody(current.body_md);
      setCriteria(current.criteria.join(", "));
      setScaleName(current.rating_scale.name ?? "");
      setScaleMin(current.rating_scale.min ?? 1);
      setScaleMax(current.rating_scale.max ?? 7);
      setLabels(Object.entries(current.rating_scale.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", "));
      setFlags(flagsToText(current.flags));
    }
  };
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId]);

  const isAdmin = project?.my_role === "admin" || (me.is_staff && project?.my_role == null);
  const publish = async (e: React.FormEvent) => {
    e.preventDefault();
    setErrors([]);
    const labelMap: Record<string, string> = {};
    for (const part of labels.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [k, ...v] = part.split("=");
      labelMap[k.trim()] = v.join("=").trim();
    }
    try {
      const g = await api<Guideline>("POST", `/api/projects/${projectId}/guidelines/`, {
        body_md: body,
        criteria: criteria.split(",").map((s) => s.trim()).filter(Boolean),
        rating_scale: { name: scaleName, min: scaleMin, max: scaleMax, labels: labelMap },
        flags: textToFlags(flags),
      });
      setMessage(`Published guideline version ${g.version}. New tasks are handed out under it.`);
      edited.current = false;
      await load();
    } catch (err) {
      if (err instanceof ApiError) setErrors([err.message, ...err.errors.map((x) => `${x.field ?? ""}: ${x.message}`)]);
      else setErrors([String(err)]);
    }
  };

  const current = versions[0];
  return (
    <section>
      <h1>Guidelines {project && <span className="muted">— {project.name}</span>}</h1>
      {message && <div className="notice" role="status">{message}</div>}
      {current && !isAdmin && (
        <div className="card">
          <h2>Version {current.version}</h2>
          <Markdown text={current.body_md} />
        </div>
      )}
      {isAdmin && (
        <form className="guideline-form" onSubmit={publish}>
          <h2>Publish a new version {current && <span className="muted">(current: v{current.version})</span>}</h2>
          <div className="editor-grid">
            <label className="card">
              Guideline (markdown)
              <textarea name="body_md" rows={14} value={body} onChange={(e) => (edited.current = true) && setBody(e.target.value)} />
            </label>
            <div className="card preview">
              <h3>Preview</h3>
              <Markdown text={body} />
            </div>
          </div>
          <div className="form-row">
            <label>
              Criteria (comma separated)
              <input name="criteria" value={criteria} onChange={(e) => (edited.current = true) && setCriteria(e.target.value)} />
            </label>
            <label>
              Rating scale name
              <input name="scale_name" value={scaleName} onChange={(e) => (edited.current = true) && setScaleName(e.target.value)} />
            </label>
            <label>
              Min
              <input name="scale_min" type="number" value={scaleMin} onChange={(e) => (edited.current = true) && setScaleMin(Number(e.target.value))} />
            </label>
            <label>
              Max
              <input name="scale_max" type="number" value={scaleMax} onChange={(e) => (edited.current = true) && setScaleMax(Number(e.target.value))} />
            </label>
            <label>
              Labels (1=Terrible, 7=Excellent)
              <input name="scale_labels" value={labels} onChange={(e) => (edited.current = true) && setLabels(e.target.value)} />
            </label>
          </div>
          <label className="card">
            Flags, one per line: <code>key | label</code>
            <textarea name="flags" rows={6} value={flags} onChange={(e) => (edited.current = true) && setFlags(e.target.value)} />
          </label>
          {errors.length > 0 && (
            <div className="error" role="alert">
              {errors.map((m, i) => (
                <div key={i}>{m}</div>
              ))}
            </div>
          )}
          <button type="submit" className="primary">
            Publish version {current ? current.version + 1 : 1}
          </button>
        </form>
      )}
      <h2>All versions</h2>
      {usage && (
        <p className="muted small">
          Each annotation records the guideline version it was made under; the counts below are per version.
        </p>
      )}
      <table className="table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Published</th>
            <th>Criteria</th>
            <th>Flags</th>
            {usage && (
              <>
                <th>Rankings</th>
                <th>Demonstrations</th>
                <th>Written prompts</th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {versions.map((g) => (
            <tr key={g.id} data-version={g.version}>
              <td>v{g.version}</td>
              <td>{new Date(g.created_at).toLocaleString()}</td>
              <td>{g.criteria.join(", ")}</td>
              <td>{g.flags.length}</td>
              {usage && (
                <>
                  <td data-usage="rankings">{usage[g.version]?.rankings ?? 0}</td>
                  <td data-usage="demonstrations">{usage[g.version]?.demonstrations ?? 0}</td>
                  <td data-usage="written_prompts">{usage[g.version]?.written_prompts ?? 0}</td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
