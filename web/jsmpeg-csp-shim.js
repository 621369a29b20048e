// Loaded just before vendor/jsmpeg.min.js. The @cycjimmy/jsmpeg-player bundle injects a <style> element for
// its VideoElement UI (which mpegcast does not use) as soon as it loads; under the relay's CSP (style-src 'self')
// Chromium refuses it with a console error. While the bundle loads, <style> elements added to <head> stay
// detached (never parsed, never reported); player.js calls window.mpegcastRestoreHead() to undo this.
(function () {
  'use strict';
  var head = document.head;
  var isStyle = function (node) { return !!node && node.nodeName === 'STYLE'; };
  var appendChild = head.appendChild;
  var insertBefore = head.insertBefore;
  head.appendChild = function (node) {
    return isStyle(node) ? node : appendChild.call(this, node);
  };
  head.insertBefore = function (node, ref) {
    return isStyle(node) ? node : insertBefore.call(this, node, ref);
  };
  window.mpegcastRestoreHead = function () {
    delete head.appendChild;
    delete head.insertBefore;
  };
}());
