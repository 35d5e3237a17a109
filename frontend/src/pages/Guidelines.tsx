import { useEffect, useRef, useState } from "react";
import { api, ApiError, Guideline, Me, Project, type Schemas } from "../api";
import { GuidelineCompare } from "../components/GuidelineCompare";
import { GuidelineView } from "../components/GuidelineView";
import { ErrorList } from "../components/taskParts";
import { flagsToText, labelsToText, textToFlags, textToLabels } from "../guidelineForm";
import { Markdown } from "../markdown";

/** Annotations made under one guideline version (GET …/guidelines/usage/, reviewers and admins). */
type Usage = Schemas["GuidelineUsage"];

/** The page's one status area: the outcome of the latest publish only (a new attempt clears the old one). */
type Status = { kind: "published"; text: string } | { kind: "error"; lines: string[]; fields: string[] } | null;

function errorStatus(err: unknown): Status {
  if (!(err instanceof ApiError)) return { kind: "error", lines: [String(err)], fields: [] };
  return {
    kind: "error",
    lines: [err.message, ...err.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)],
    fields: err.errors.map((x) => x.field ?? "").filter(Boolean),
  };
}

export function GuidelinesPage({ projectId, me }: { projectId: number; me: Me }) {
  const [project, setProject] = useState<Project | null>(null);
  const [versions, setVersions] = useState<Guideline[]>([]);
  const [usage, setUsage] = useState<Record<number, Usage> | null>(null);
  const [loadError, setLoadError] = useState("");
  const [body, setBody] = useState("");
  const [criteria, setCriteria] = useState("");
  const [scaleName, setScaleName] = useState("Overall quality");
  const [scaleMin, setScaleMin] = useState(1);
  const [scaleMax, setScaleMax] = useState(7);
  const [labels, setLabels] = useState("");
  const [flags, setFlags] = useState("");
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  const [opened, setOpened] = useState<number | null>(null);
  const [compareFrom, setCompareFrom] = useState<number | null>(null);
  const [compareTo, setCompareTo] = useState<number | null>(null);

  const edited = useRef(false);
  const edit = <T,>(set: (v: T) => void) => (v: T) => {
    edited.current = true;
    set(v);
  };

  // Prefill the form from the current version, unless the admin has started editing (never overwrite edits).
  const load = async () => {
    try {
      const p = await api<Project>("GET", `/api/projects/${projectId}/`);
      setProject(p);
      const all = await api<Guideline[]>("GET", `/api/projects/${projectId}/guidelines/`);
      setVersions(all);
      setCompareFrom(all[1]?.version ?? null);
      setCompareTo(all[0]?.version ?? null);
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
        setLabels(labelsToText(current.rating_scale.labels));
        setFlags(flagsToText(current.flags));
      }
    } catch (err) {
      setLoadError(err instanceof ApiError ? err.message : String(err));
    }
  };
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId]);

  const isAdmin = project?.my_role === "admin" || (me.is_staff && project?.my_role == null);
  const publish = async (e: React.FormEvent) => {
    e.preventDefault();
    setStatus(null);
    setBusy(true);
    try {
      const g = await api<Guideline>("POST", `/api/projects/${projectId}/guidelines/`, {
        body_md: body,
        criteria: criteria.split(",").map((s) => s.trim()).filter(Boolean),
        rating_scale: { name: scaleName, min: scaleMin, max: scaleMax, labels: textToLabels(labels) },
        flags: textToFlags(flags),
      });
      const text = `Published guideline version ${g.version}. New tasks are handed out under it.`;
      setStatus({ kind: "published", text });
      edited.current = false;
      await load();
    } catch (err) {
      setStatus(errorStatus(err));
    } finally {
      setBusy(false);
    }
  };
  // aria-invalid on the inputs of the fields the server named (`flags[2].description` marks the flags box).
  const invalid = (field: string) =>
    status?.kind === "error" && status.fields.some((f) => f.replace(/[[.].*$/, "") === field) ? true : undefined;

  const current = versions[0];
  const byVersion = (v: number | null) => versions.find((g) => g.version === v) ?? null;
  const openedGuideline = byVersion(opened);
  const from = byVersion(compareFrom);
  const to = byVersion(compareTo);
  return (
    <section>
      <h2>Guidelines</h2>
      {loadError && <ErrorList errors={[loadError]} />}
      {current && !isAdmin && (
        <div className="card">
          <h2>Version {current.version} (in force)</h2>
          <GuidelineView guideline={current} />
        </div>
      )}
      {isAdmin && (
        <form className="guideline-form" onSubmit={publish}>
          <h2>Publish a new version {current && <span className="muted">(current: v{current.version})</span>}</h2>
          <div className="editor-grid">
            <label className="card">
              Guideline (markdown)
              <textarea
                name="body_md"
                rows={14}
                value={body}
                aria-invalid={invalid("body_md")}
                onChange={(e) => edit(setBody)(e.target.value)}
              />
            </label>
            <div className="card preview">
              <h3>Preview</h3>
              <Markdown text={body} />
            </div>
          </div>
          <div className="form-row">
            <label>
              Criteria (comma separated)
              <input
                name="criteria"
                value={criteria}
                aria-invalid={invalid("criteria")}
                onChange={(e) => edit(setCriteria)(e.target.value)}
              />
            </label>
            <label>
              Rating scale name
              <input
                name="scale_name"
                value={scaleName}
                aria-invalid={invalid("rating_scale")}
                onChange={(e) => edit(setScaleName)(e.target.value)}
              />
            </label>
            <label>
              Min
              <input
                name="scale_min"
                type="number"
                value={scaleMin}
                aria-invalid={invalid("rating_scale")}
                onChange={(e) => edit(setScaleMin)(Number(e.target.value))}
              />
            </label>
            <label>
              Max
              <input
                name="scale_max"
                type="number"
                value={scaleMax}
                aria-invalid={invalid("rating_scale")}
                onChange={(e) => edit(setScaleMax)(Number(e.target.value))}
              />
            </label>
            <label>
              Labels (1=Terrible, 7=Excellent)
              <input
                name="scale_labels"
                value={labels}
                aria-invalid={invalid("rating_scale")}
                onChange={(e) => edit(setLabels)(e.target.value)}
              />
            </label>
          </div>
          <label className="card">
            Flags, one per line: <code>key | label | description</code> (label and description optional)
            <textarea
              name="flags"
              rows={6}
              value={flags}
              aria-invalid={invalid("flags")}
              onChange={(e) => edit(setFlags)(e.target.value)}
            />
          </label>
          <div className="status-area" data-testid="guideline-status">
            {status?.kind === "published" && (
              <div className="notice" role="status">
                {status.text}
              </div>
            )}
            {status?.kind === "error" && <ErrorList errors={status.lines} />}
          </div>
          <button type="submit" className="primary" disabled={busy}>
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
            <th>
              <span className="sr-only">Read</span>
            </th>
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
              <td>
                <button
                  type="button"
                  aria-expanded={opened === g.version}
                  aria-controls="guideline-opened"
                  onClick={() => setOpened(opened === g.version ? null : g.version)}
                >
                  {opened === g.version ? "Close" : "Open"} v{g.version}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div id="guideline-opened">
        {openedGuideline && (
          <div className="card" aria-label={`Guideline version ${openedGuideline.version}, read-only`} role="region">
            <h2>
              Version {openedGuideline.version} <span className="muted small">(read-only)</span>
            </h2>
            <GuidelineView guideline={openedGuideline} />
          </div>
        )}
      </div>
      {versions.length > 1 && (
        <section className="card" aria-labelledby="compare-title">
          <h2 id="compare-title">Compare versions</h2>
          <div className="compare-row">
            <label>
              From
              <select
                name="compare_from"
                value={compareFrom ?? ""}
                onChange={(e) => setCompareFrom(Number(e.target.value))}
              >
                {versions.map((g) => (
                  <option key={g.id} value={g.version}>
                    v{g.version}
                  </option>
                ))}
              </select>
            </label>
            <label>
              To
              <select name="compare_to" value={compareTo ?? ""} onChange={(e) => setCompareTo(Number(e.target.value))}>
                {versions.map((g) => (
                  <option key={g.id} value={g.version}>
                    v{g.version}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {from && to && from.version !== to.version ? (
            <GuidelineCompare before={from} after={to} />
          ) : (
            <p className="muted">Choose two different versions.</p>
          )}
        </section>
      )}
    </section>
  );
}
