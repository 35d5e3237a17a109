import { useState } from "react";
import { api, ApiError, resetCsrf } from "../api";

export function LoginPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    try {
      resetCsrf();
      await api("GET", "/api/auth/csrf");
      await api("POST", "/api/auth/login", { username, password });
      resetCsrf(); // the session rotates the CSRF token on login
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <form className="login card" onSubmit={submit}>
      <h1>Annotate</h1>
      <label>
        Username
        <input name="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      {error && <p className="error">{error}</p>}
      <button type="submit" className="primary">
        Sign in
      </button>
    </form>
  );
}
