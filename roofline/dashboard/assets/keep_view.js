/* Keeps a graph's zoom and hidden legend entries when its callback sends a new figure.
 *
 * Dash's Graph writes a user's zoom back into its `figure` property, and the re-render that
 * follows clears what plotly's `uirevision` would have kept; so a view callback sends its
 * figure to a store, and this function (a clientside callback) copies the user's view from
 * the figure on screen: axis ranges the user set (autorange off) and traces hidden from the
 * legend (matched by `uid`). A double-click (autorange back on) lets the new ranges apply.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  roofline: Object.assign({}, (window.dash_clientside || {}).roofline, {
    keepView: function (fig, current) {
      if (!fig) {
        return window.dash_clientside.no_update;
      }
      const out = Object.assign({}, fig, {layout: Object.assign({}, fig.layout)});
      const shown = (current && current.layout) || {};
      for (const axis of ["xaxis", "yaxis"]) {
        const now = shown[axis];
        if (now && now.autorange === false && Array.isArray(now.range)) {
          out.layout[axis] = Object.assign({}, out.layout[axis],
                                           {range: now.range.slice(), autorange: false});
        }
      }
      const hidden = new Set(((current && current.data) || [])
        .filter(t => t.visible === "legendonly" && t.uid).map(t => t.uid));
      out.data = (fig.data || []).map(
        t => (hidden.has(t.uid) ? Object.assign({}, t, {visible: "legendonly"}) : t));
      return out;
    },
  }),
});
