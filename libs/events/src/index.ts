export { TypedEvents, type EventMap, type ListenerErrorHandler } from "./typed-events.js";
