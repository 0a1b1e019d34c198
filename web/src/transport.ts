// The official transports, each with the page's media manager. SmallWebRTC (the
// default) sends the mic as Opus with the browser's echo cancellation; it only needs
// to let the page see every RTVI message. The WebSocket one has two additions:
// - it tells the page about every RTVI message it decodes, because client-js drops
//   the types it does not know, bot-interrupted among them;
// - on an https:// page it connects with wss://: behind a TLS proxy the device sees
//   plain HTTP and answers /start with ws://, which a secure page may not open.
import type { RTVIMessage } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { ProtobufFrameSerializer, WebSocketTransport } from "@pipecat-ai/websocket-transport";
import type { BrowserMediaManager, MediaManager } from "./media";
import type { RtcMediaManager, WebRtcMedia } from "./rtc-media";

class WatchingSerializer extends ProtobufFrameSerializer {
  constructor(private readonly onMessage: (message: RTVIMessage) => void) {
    super();
  }

  override async deserialize(data: unknown): ReturnType<ProtobufFrameSerializer["deserialize"]> {
    const parsed = await super.deserialize(data);
    if (parsed.type === "message") this.onMessage(parsed.message);
    return parsed;
  }
}

class DeviceTransport extends WebSocketTransport {
  override _validateConnectionParams(params: unknown): ReturnType<WebSocketTransport["_validateConnectionParams"]> {
    const valid = super._validateConnectionParams(params);
    if (valid?.wsUrl && location.protocol === "https:") valid.wsUrl = valid.wsUrl.replace(/^ws:/, "wss:");
    return valid;
  }
}

export function deviceTransport(
  media: BrowserMediaManager,
  onMessage: (message: RTVIMessage) => void,
): WebSocketTransport {
  return new DeviceTransport({
    // Its MediaManager class is not exported: media.ts implements its public shape.
    mediaManager: media as unknown as MediaManager,
    serializer: new WatchingSerializer(onMessage),
  });
}

class WatchingRtcTransport extends SmallWebRTCTransport {
  constructor(
    media: WebRtcMedia,
    private readonly onAny: (message: RTVIMessage) => void,
  ) {
    super({ mediaManager: media as unknown as RtcMediaManager });
  }

  override handleMessage(message: string): void {
    try {
      const m = JSON.parse(message) as RTVIMessage & { label?: string };
      if (m.label === "rtvi-ai") this.onAny(m);
    } catch {
      /* the transport reports it */
    }
    super.handleMessage(message);
  }
}

export function rtcTransport(media: WebRtcMedia, onMessage: (message: RTVIMessage) => void): SmallWebRTCTransport {
  return new WatchingRtcTransport(media, onMessage);
}
