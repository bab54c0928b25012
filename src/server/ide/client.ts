/**
 * The browser-side code of the IDE page. It is served as same-origin assets (not inlined into the
 * HTML) so the Content-Security-Policy can say script-src 'self' and style-src 'self' with no
 * 'unsafe-inline'. It is plain ES5-era JavaScript on purpose: it runs untranspiled in the browser.
 */

/** Reads the page config from the JSON blob and mounts GraphiQL (globals from the UMD bundles). */
export const bootstrapScript = `(function () {
  'use strict';
  var blob = document.getElementById('graphiql-config');
  var config = JSON.parse(blob ? blob.textContent : '{}');
  var headers = config.headers || undefined;
  var fetcher = GraphiQL.createFetcher({
    url: config.endpoint,
    // The gateway has no @defer/@stream; plain JSON POSTs also satisfy Apollo's CSRF prevention.
    enableIncrementalDelivery: false,
  });
  // Right after a tab switch GraphiQL can still hold the previous tab's operation name for a moment;
  // a name the document does not define is dropped, so the document's own operation runs.
  var guardedFetcher = function (params, options) {
    var name = params && params.operationName;
    if (name && typeof params.query === 'string') {
      var defined = new RegExp('\\\\b(query|mutation|subscription)\\\\s+' + name + '\\\\b').test(params.query);
      if (!defined) params = Object.assign({}, params, { operationName: undefined });
    }
    return fetcher(params, options);
  };
  var tabs = config.tabs.map(function (tab) {
    return { query: tab.query, variables: tab.variables, headers: headers };
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: guardedFetcher,
      defaultTabs: tabs,
      // Also used for tabs restored from localStorage, whose headers GraphiQL never persists.
      defaultHeaders: headers,
      defaultEditorToolsVisibility: headers ? 'headers' : false,
    }),
  );
})();
`;

/** GraphiQL needs a sized container; everything else comes from graphiql.min.css. */
export const pageStyles = `html, body, #graphiql { height: 100%; margin: 0; }
body { overflow: hidden; }
noscript { display: block; padding: 2rem; font-family: system-ui, sans-serif; }
`;
