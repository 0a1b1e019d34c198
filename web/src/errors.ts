// What went wrong, in words a person can act on.
import { DeviceError, StartBotError } from "@pipecat-ai/client-js";

/** The text inside whatever client-js threw or reported (errors, RTVI messages, strings). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const data = (err as { data?: { error?: unknown; message?: unknown } })?.data;
  return String(data?.error ?? data?.message ?? err);
}

/** /start refused us: why, asking /health for the session count when the device is busy. */
export async function startError(err: unknown, hadToken: boolean): Promise<string> {
  const status = err instanceof StartBotError ? err.status : undefined;
  if (status === 401) {
    return hadToken
      ? "Wrong token: the device refused it. Check it under Connection."
      : "The device needs a token: enter it under Connection.";
  }
  if (status === 403) return "The device does not accept pages from this address ([rtvi] allowed_origins).";
  if (status === 503) {
    try {
      const health = await (await fetch("/health")).json();
      if (health.status === "starting") return "The device is still starting (loading its models). Try again in a moment.";
      const n = Number(health.sessions);
      return `The device is busy with ${n} session${n === 1 ? "" : "s"}, its limit. Try again when one ends.`;
    } catch {
      return "The device is busy. Try again in a moment.";
    }
  }
  if (status === undefined && /fetch|network|load failed/i.test(errorText(err))) {
    return "Cannot reach the device. Is rtvi-edge running, and this the right address?";
  }
  return plain(errorText(err));
}

/** An `error` from the device or the transport, or a failed request. */
export function plain(text: string): string {
  const busy = /already serves (\d+) sessions?/.exec(text);
  if (busy) return `The device is busy with ${busy[1]} sessions, its limit. Try again when one ends.`;
  if (/missing or wrong token/i.test(text)) return "Wrong token: the device refused it. Check it under Connection.";
  if (/shutting down/i.test(text)) return "The device is shutting down.";
  if (/still starting/i.test(text)) return "The device is still starting (loading its models). Try again in a moment.";
  if (/Failed to connect to websocket/i.test(text)) return "Could not open the connection to the device.";
  if (/connection closed|reconnect failed/i.test(text)) return "The connection to the device was lost.";
  if (/timed out/i.test(text)) return "The device did not answer in time.";
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The microphone could not be opened: what to do about it. The page still works by typing. */
export function micError(err: DeviceError): string {
  switch (err.type) {
    case "undefined-mediadevices":
      return "No microphone: browsers allow it only on https:// pages or on localhost. You can still type.";
    case "permissions":
      return "The microphone is blocked: allow it for this page in the browser's site settings. You can still type.";
    case "not-found":
      return "No microphone was found. You can still type.";
    case "in-use":
      return "The microphone is in use by another program. You can still type.";
    default:
      return `The microphone could not be opened (${err.message}). You can still type.`;
  }
}
