// Loaded with --import by skewedClockEnv: shifts this process's wall clock.
const skewMs = Number(process.env.TIMENET_TEST_CLOCK_SKEW_MS ?? "0");
if (!Number.isFinite(skewMs)) throw new Error(`TIMENET_TEST_CLOCK_SKEW_MS is not a number: ${process.env.TIMENET_TEST_CLOCK_SKEW_MS}`);
const realNow = Date.now;
Date.now = () => realNow() + skewMs;
export {};
