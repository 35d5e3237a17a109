export function Kbd({ children }: { children: React.ReactNode }) {
  return <kbd>{children}</kbd>;
}
