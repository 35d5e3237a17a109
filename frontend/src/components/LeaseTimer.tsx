import { useEffect, useState } from "react";
import { serverNow } from "../api";

export function LeaseTimer({ expiresAt }: { expiresAt: string }) {
  const [now, setNow] = useState(serverNow());
  useEffect(() => {
    const t = window.setInterval(() => setNow(serverNow()), 1000);
    return () => window.clearInterval(t);
  }, []);
  const left = Math.round((new Date(expiresAt).getTime() - now) / 1000);
  if (left <= 0)
    return (
      <div className="lease expired" role="status">
        Your lease expired at {new Date(expiresAt).toLocaleTimeString()}. The task went back to the pool: you can
        still submit while it needs annotations; if others have completed it meanwhile, you will be told and your
        work stays on screen.
      </div>
    );
  const mm = Math.floor(left / 60);
  const ss = String(left % 60).padStart(2, "0");
  return (
    <span className={"lease" + (left < 120 ? " warn" : "")} title="Time left on your lease of this task">
      Lease: {mm}:{ss} left
    </span>
  );
}
