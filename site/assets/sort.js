// Click-to-sort for tables with class "sortable" (progressive enhancement: without JavaScript
// the tables are complete and already ordered). A cell's data-sort attribute, when present, is
// its sort key; headers with data-type="number" sort numerically, missing values last.
(() => {
  "use strict";
  const key = (cell, numeric) => {
    if (!cell) return numeric ? NaN : "";
    const raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    return numeric ? Number.parseFloat(raw) : (raw || "").trim().toLowerCase();
  };
  const compare = (x, y, numeric, ascending) => {
    if (numeric) {
      if (Number.isNaN(x) && Number.isNaN(y)) return 0;
      if (Number.isNaN(x)) return 1;
      if (Number.isNaN(y)) return -1;
      return ascending ? x - y : y - x;
    }
    return ascending ? x.localeCompare(y) : y.localeCompare(x);
  };
  const sortBy = (table, index, numeric, th) => {
    const tbody = table.tBodies[0];
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    const rows = [...tbody.rows].sort((a, b) =>
      compare(key(a.cells[index], numeric), key(b.cells[index], numeric), numeric, ascending)
    );
    for (const row of rows) tbody.appendChild(row);
    for (const cell of th.parentNode.cells) cell.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  };
  const enhance = (table) => {
    const head = table.tHead && table.tHead.rows[0];
    if (!head || !table.tBodies[0]) return;
    [...head.cells].forEach((th, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      const numeric = th.getAttribute("data-type") === "number";
      button.addEventListener("click", () => sortBy(table, index, numeric, th));
    });
  };
  for (const table of document.querySelectorAll("table.sortable")) enhance(table);
})();
