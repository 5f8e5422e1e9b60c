// @thaunknown/simple-peer ships no types; the part used goes through SimplePeerInstance (simplePeerLink.ts).
declare module '@thaunknown/simple-peer/lite.js' {
  const Peer: new (opts: Record<string, unknown>) => unknown;
  export default Peer;
}
