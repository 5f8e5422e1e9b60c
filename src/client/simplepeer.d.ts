// simple-peer's prebuilt browser bundle (its package entry needs Node globals under Vite).
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
