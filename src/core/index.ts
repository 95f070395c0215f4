/** The pure protocol core: codec, reliable stream and session state machines. No I/O. */
export * from "./constants.js";
export * from "./errors.js";
export * from "./bytes.js";
export * from "./frame/types.js";
export { encodeFrame, encodeFrameBytes, encodePreamble } from "./frame/encode.js";
export { FrameDecoder, type DecoderOptions } from "./frame/decode.js";
export { SendBuffer } from "./reliable/send-buffer.js";
export { Receiver } from "./reliable/receiver.js";
export { SharedBudget, type BudgetWaiter } from "./reliable/shared-budget.js";
export type { SessionEnv } from "./session/env.js";
export type { SessionEvent, SuspendReason } from "./session/events.js";
export * from "./session/options.js";
export { SessionState, canTransition } from "./session/state.js";
export { Session, DEFAULT_TRANSMIT_QUANTUM } from "./session/session.js";
export { ClientSession, type ClientSessionOptions } from "./session/client-session.js";
export { ServerSession, type ServerSessionOptions } from "./session/server-session.js";
export { ServerLink, type LinkRequest } from "./session/server-link.js";
