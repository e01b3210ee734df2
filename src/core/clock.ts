/** Milliseconds since the epoch; injectable so policies with time windows can be tested. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
