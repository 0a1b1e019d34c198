// Stands in for @daily-co/daily-js in the bundle (build.mjs aliases it here).
// The transport imports Daily only for its default media manager, which loads
// Daily's call machine from the internet; the page injects its own (media.ts).
// Leaving Daily out keeps the bundle small and guarantees it never runs.
const Daily = {
  getCallInstance(): undefined {
    return undefined;
  },
  createCallObject(): never {
    throw new Error("rtvi-edge's page has no Daily media manager: pass mediaManager to the transport");
  },
};
export default Daily;
