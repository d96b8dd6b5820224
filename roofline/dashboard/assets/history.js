/* Writes a page's query string (from its inputs) into the address bar in place.
 *
 * history.replaceState edits the current entry: changing an input adds no history entry,
 * so Back and Forward step through navigations (links, pages), and Dash's Location
 * component, which only reads the address on a navigation, rebuilds the page from what
 * the address bar shows. A query from a page no longer shown is dropped.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  roofline: Object.assign({}, (window.dash_clientside || {}).roofline, {
    writeQuery: function (data) {
      const noUpdate = window.dash_clientside.no_update;
      if (!data || typeof data.query !== "string" || typeof data.page !== "string") {
        return noUpdate;
      }
      if (!document.getElementById(data.page + "-message")) {
        return noUpdate;
      }
      if (window.location.search !== data.query) {
        const url = window.location.pathname + data.query + window.location.hash;
        window.history.replaceState(window.history.state, "", url);
      }
      return data.query;
    },
  }),
});
