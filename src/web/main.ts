// The browser bundle's entry (build-web bundles it as face0.js): puts the API on window.
import { Face0Browser } from './api.js';

declare global {
  interface Window {
    face0: Face0Browser;
  }
}

window.face0 = new Face0Browser();
