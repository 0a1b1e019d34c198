// client-react's conversation state (usePipecatConversation inside PipecatClientProvider)
// mounted under Node with react-test-renderer, on the same PipecatClient the harness drives:
// the very reducer a React app's chat view renders from, without a browser.
//
//   const conv = await mountConversation(client, (messages) => ...);   conv.messages()
//
// No act(): updates arrive from the WebSocket, as in an app, and React schedules them.
import React from "react";
import TestRenderer from "react-test-renderer";
import { PipecatClientProvider, usePipecatConversation } from "@pipecat-ai/client-react";

globalThis.IS_REACT_ACT_ENVIRONMENT = false;

export function mountConversation(client, onChange) {
  let latest = [];
  function Probe() {
    const { messages } = usePipecatConversation();
    React.useEffect(() => {
      latest = messages;
      onChange(messages);
    }, [messages]);
    return null;
  }
  const renderer = TestRenderer.create(
    React.createElement(PipecatClientProvider, { client }, React.createElement(Probe)),
  );
  return { messages: () => latest, unmount: () => renderer.unmount() };
}
