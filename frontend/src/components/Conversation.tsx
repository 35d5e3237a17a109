import { Markdown } from "../markdown";

export function Conversation({ messages }: { messages: { role: string; content: string }[] }) {
  return (
    <div className="conversation" aria-label="Conversation">
      {messages.map((m, i) => (
        <div className={"turn " + m.role} key={i}>
          <div className="role">{m.role}</div>
          <Markdown text={m.content} />
        </div>
      ))}
    </div>
  );
}
