// featgen report: draws the embedded data. Money arrives as decimal strings summed in Rust and is
// formatted here with BigInt, never added in floating point; chart values are floats because only
// their drawing depends on them. Names from the data reach the document as text only (textContent,
// ECharts' canvas, or esc() in tooltips).
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('featgen-data').textContent);
  performance.mark('featgen-parsed');
  var FEATURE = 1, GROUP = 2, TEAM = 3, TIER = 4;
  var GROUPING = { feature: FEATURE, group: GROUP, team: TEAM };
  var GROUPING_NAME = { feature: 'feature', group: 'feature group', team: 'team' };
  var METRIC_NAME = { cost: 'Cost (' + data.currency + ')', share: 'CPU share', cpu: 'CPU seconds' };
  var BUCKETS = ['unattributed', 'unprofiled', 'unallocated'];
  var BUCKET_COLORS = { unattributed: '#98a2b3', unprofiled: '#d0d5dd', unallocated: '#667085' };
  var OTHER_COLOR = '#e6d5b8';
  function colorOf(name) {
    return BUCKET_COLORS[name] || (name.indexOf('other ') === 0 ? OTHER_COLOR : undefined);
  }
  var TOP = 12;
  var state = { deployment: 0, period: 0, metric: 'cost', grouping: 'feature', table: 'feature', changes: 'endpoint', sorts: {} };

  // ---- formatting ----
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function group3(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }
  // A decimal string to cents, half away from zero, exactly (BigInt).
  function money(text) {
    if (text === null || text === undefined) return '';
    var negative = text.charAt(0) === '-';
    var parts = (negative ? text.slice(1) : text).split('.');
    var frac = ((parts[1] || '') + '0000').slice(0, 4);
    var units = BigInt(parts[0] + frac); // ten-thousandths
    var cents = (units + 50n) / 100n;
    var whole = cents / 100n, rest = cents % 100n;
    var sign = negative && cents !== 0n ? '-' : '';
    return sign + group3(whole.toString()) + '.' + (rest < 10n ? '0' : '') + rest.toString();
  }
  function num(value, digits) {
    if (value === null || value === undefined) return '';
    return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }
  function percent(value) {
    return value === null || value === undefined ? '' : (value * 100).toFixed(2) + '%';
  }
  // Cost per request for display: a ratio of the exact cost and the request count, to 4
  // significant digits (no sum involved).
  function costPerRequest(row) {
    return row[4] ? parseFloat(row[1]) / row[4] : null;
  }
  function fourDigits(value) {
    return value === null ? '' : Number(value.toPrecision(4)).toString();
  }
  function signed(text) {
    return text.charAt(0) === '-' ? money(text) : '+' + money(text);
  }

  // ---- the data ----
  function slice() {
    return data.slices[state.period][state.deployment];
  }
  function featureOf(index) {
    return data.features[index];
  }
  // Labels of a table key at a level.
  function labels(level, key) {
    if (level === 'endpoint') {
      var leaf = data.leaves[key], f = featureOf(leaf[0]);
      return f[0] === 'feature' ? [f[1], leaf[1]] : [f[0], ''];
    }
    if (level === 'feature') return [featureOf(key)[1]];
    return [key];
  }
  function isBucket(level, key) {
    if (level === 'endpoint') return featureOf(data.leaves[key][0])[0] !== 'feature';
    if (level === 'feature') return featureOf(key)[0] !== 'feature';
    return BUCKETS.indexOf(key) >= 0;
  }
  // A table row's value for the metric (floats: for drawing only).
  function metricValue(row, totalCpu) {
    if (state.metric === 'cost') return parseFloat(row[1]);
    if (state.metric === 'share') return totalCpu > 0 ? row[2] / totalCpu : 0;
    return row[2];
  }
  function metricText(value) {
    if (state.metric === 'cost') return num(value, 2) + ' ' + data.currency;
    if (state.metric === 'share') return percent(value);
    return num(value, 3) + ' s';
  }

  // ---- controls ----
  function fillSelect(id, names) {
    var select = document.getElementById(id);
    names.forEach(function (name, index) {
      var option = document.createElement('option');
      option.value = String(index);
      option.textContent = name;
      select.appendChild(option);
    });
  }
  fillSelect('deployment', data.deployments);
  fillSelect('period', data.periods.map(function (p) { return p.label; }));
  document.getElementById('window').textContent = data.window[0] + ' – ' + data.window[1];
  ['deployment', 'period'].forEach(function (id) {
    document.getElementById(id).addEventListener('change', function (event) {
      state[id] = Number(event.target.value);
      render();
    });
  });
  ['metric', 'grouping'].forEach(function (id) {
    document.getElementById(id).addEventListener('change', function (event) {
      state[id] = event.target.value;
      render();
    });
  });
  function tabs(id, names, key) {
    var box = document.getElementById(id);
    names.forEach(function (name) {
      var button = document.createElement('button');
      button.type = 'button';
      button.textContent = name[1];
      button.dataset.level = name[0];
      button.addEventListener('click', function () {
        state[key] = name[0];
        delete state.sorts[key === 'table' ? 'table' : 'changes'];
        render();
      });
      box.appendChild(button);
    });
  }
  tabs('table-tabs', [['team', 'team'], ['tier', 'tier'], ['group', 'feature group'], ['feature', 'feature'], ['endpoint', 'endpoint']], 'table');
  tabs('change-tabs', [['endpoint', 'endpoint'], ['feature', 'feature'], ['team', 'team']], 'changes');
  function pressTabs(id, value) {
    Array.prototype.forEach.call(document.getElementById(id).children, function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.level === value));
    });
  }

  // ---- charts ----
  var charts = {
    pie: echarts.init(document.getElementById('pie')),
    sunburst: echarts.init(document.getElementById('sunburst')),
    area: echarts.init(document.getElementById('area'))
  };
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
  function tooltip(params) {
    return esc(params.name) + '<br>' + esc(metricText(params.value)) +
      (params.percent !== undefined ? ' (' + params.percent.toFixed(1) + '%)' : '');
  }

  // The grouping's rows of the slice as [label, value], the largest TOP kept apart, the rest
  // summed into "other"; the unattributed, unprofiled and unallocated buckets always apart.
  function grouped(s) {
    var level = state.grouping, totalCpu = s.total[1];
    var named = [], buckets = [], other = 0, otherCount = 0;
    s[level].forEach(function (row) {
      var label = labels(level, row[0])[0], value = metricValue(row, totalCpu);
      if (!(value > 0)) return;
      (isBucket(level, row[0]) ? buckets : named).push([label, value]);
    });
    named.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    named.slice(TOP).forEach(function (entry) { other += entry[1]; otherCount += 1; });
    var out = named.slice(0, TOP);
    if (otherCount) out.push(['other ' + GROUPING_NAME[level] + 's (' + otherCount + ')', other]);
    return out.concat(buckets);
  }

  function drawPie(s) {
    var entries = grouped(s);
    document.getElementById('pie-title').textContent =
      METRIC_NAME[state.metric] + ' by ' + GROUPING_NAME[state.grouping] + ', ' + data.deployments[state.deployment];
    charts.pie.setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: tooltip },
      legend: { type: 'scroll', orient: 'vertical', right: 0, top: 10, bottom: 10, data: entries.map(function (e) { return e[0]; }) },
      series: [{
        type: 'pie', name: 'pie', radius: ['35%', '70%'], center: ['35%', '50%'],
        label: { formatter: '{d}%' },
        data: entries.map(function (e) {
          var color = colorOf(e[0]);
          return color ? { name: e[0], value: e[1], itemStyle: { color: color } } : { name: e[0], value: e[1] };
        })
      }]
    }, { notMerge: true });
  }

  function drawSunburst(s) {
    var totalCpu = s.total[1], groups = {}, top = [];
    s.endpoint.forEach(function (row) {
      var value = metricValue(row, totalCpu);
      if (!(value > 0)) return;
      var leaf = data.leaves[row[0]], f = featureOf(leaf[0]);
      if (f[0] !== 'feature') {
        top.push({ name: f[0], value: value, itemStyle: { color: BUCKET_COLORS[f[0]] } });
        return;
      }
      var group = groups[f[GROUP]] || (groups[f[GROUP]] = { name: f[GROUP], children: {}, value: 0 });
      var feature = group.children[f[FEATURE]] || (group.children[f[FEATURE]] = { name: f[FEATURE], children: [], value: 0 });
      feature.children.push({ name: leaf[1], value: value });
      feature.value += value;
      group.value += value;
    });
    // Segments under 0.1% of the whole are thinner than a pixel: each parent's are drawn as one
    // "other" segment, which also keeps a fleet of thousands of endpoints quick to draw.
    var whole = top.reduce(function (a, n) { return a + n.value; }, 0);
    Object.keys(groups).forEach(function (name) { whole += groups[name].value; });
    function fold(children, what) {
      var kept = [], other = { name: '', value: 0, count: 0 };
      children.forEach(function (child) {
        if (child.value >= whole * 0.001) kept.push(child);
        else { other.value += child.value; other.count += 1; }
      });
      if (other.count) kept.push({ name: 'other ' + what + ' (' + other.count + ')', value: other.value, itemStyle: { color: OTHER_COLOR } });
      return kept;
    }
    var tree = Object.keys(groups).sort().map(function (name) {
      var group = groups[name];
      var features = Object.keys(group.children).sort().map(function (f) {
        var feature = group.children[f];
        return { name: feature.name, value: feature.value, children: fold(feature.children, 'endpoints') };
      });
      return { name: name, value: group.value, children: fold(features, 'features') };
    }).concat(top);
    charts.sunburst.setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: tooltip },
      series: [{
        type: 'sunburst', name: 'back', data: tree, radius: [0, '95%'], sort: 'desc',
        nodeClick: 'rootToNode',
        label: { rotate: 'radial', minAngle: 8, overflow: 'truncate', width: 80 },
        levels: [{}, { r0: '12%', r: '40%' }, { r0: '40%', r: '70%' }, { r0: '70%', r: '95%', label: { position: 'outside', show: false } }]
      }]
    }, { notMerge: true });
    showSunburstRoot();
  }
  function sunburstRoot() {
    var series = charts.sunburst.getModel().getSeriesByIndex(0);
    var root = series && series.getViewRoot();
    var path = [];
    while (root && root.depth > 0) {
      path.unshift(root.name);
      root = root.parentNode;
    }
    return path;
  }
  function showSunburstRoot() {
    var path = sunburstRoot();
    document.getElementById('sunburst-root').textContent = path.length ? 'Zoomed into: ' + path.join(' → ') : '';
  }
  charts.sunburst.on('sunburstroottonode', showSunburstRoot);

  function drawArea() {
    var period = data.periods[state.period], column = GROUPING[state.grouping];
    var first = 0, last = data.times.length;
    while (first < last && data.times[first] < period.span[0]) first += 1;
    while (last > first && data.times[last - 1] >= period.span[1]) last -= 1;
    var times = data.times.slice(first, last);
    var sums = {}, totals = times.map(function () { return 0; });
    data.series[state.deployment].forEach(function (entry) {
      var f = featureOf(entry[0]);
      var values = (state.metric === 'cost' ? entry[1] : entry[2]).slice(first, last);
      var key = f[0] === 'feature' ? f[column] : f[0];
      var target = sums[key] || (sums[key] = times.map(function () { return 0; }));
      values.forEach(function (v, i) { target[i] += v; totals[i] += v; });
    });
    if (state.metric === 'share') {
      Object.keys(sums).forEach(function (key) {
        sums[key] = sums[key].map(function (v, i) { return totals[i] > 0 ? v / totals[i] : 0; });
      });
    }
    var weight = function (key) { return sums[key].reduce(function (a, b) { return a + b; }, 0); };
    var keys = Object.keys(sums).filter(function (k) { return BUCKETS.indexOf(k) < 0 && weight(k) > 0; });
    keys.sort(function (a, b) { return weight(b) - weight(a) || (a < b ? -1 : 1); });
    var shown = keys.slice(0, TOP), rest = keys.slice(TOP);
    var lines = shown.map(function (key) { return [key, sums[key]]; });
    if (rest.length) {
      lines.push(['other ' + GROUPING_NAME[state.grouping] + 's (' + rest.length + ')', times.map(function (_, i) {
        return rest.reduce(function (acc, key) { return acc + sums[key][i]; }, 0);
      })]);
    }
    BUCKETS.forEach(function (b) { if (sums[b] && weight(b) > 0) lines.push([b, sums[b]]); });
    // Each value holds for its whole hour or day: a step from its start to the next one, and a
    // closing point at the end of the last, so that even a one-hour window draws its area.
    var steps = function (values) {
      var points = values.map(function (v, i) { return [times[i] * 1000, v]; });
      if (values.length) points.push([(times[times.length - 1] + data.resolution) * 1000, values[values.length - 1]]);
      return points;
    };
    document.getElementById('area-title').textContent = METRIC_NAME[state.metric] + ' per ' +
      (data.resolution === 3600 ? 'hour' : 'day') + ' by ' + GROUPING_NAME[state.grouping] + ', ' + data.deployments[state.deployment];
    charts.area.setOption({
      animation: false,
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return metricText(v); } },
      legend: { type: 'scroll', top: 0, data: lines.map(function (l) { return l[0]; }) },
      grid: { left: 70, right: 24, top: 40, bottom: 40 },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', max: state.metric === 'share' ? 1 : null,
        axisLabel: { formatter: function (v) { return state.metric === 'share' ? Math.round(v * 100) + '%' : num(v, 2); } } },
      series: lines.map(function (line) {
        var color = colorOf(line[0]);
        return {
          type: 'line', name: line[0], stack: 'total', areaStyle: {}, showSymbol: false, step: 'end',
          lineStyle: { width: 0.5 }, itemStyle: color ? { color: color } : undefined,
          data: steps(line[1])
        };
      })
    }, { notMerge: true });
  }

  // ---- tables ----
  function cell(tr, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }
  // columns: [title, value(row) for sorting, text(row), text-column?]
  function fillTable(table, columns, rows, footer, level) {
    table.textContent = '';
    // Each table keeps its own sort: [column index, 1 ascending | -1 descending].
    var sort = state.sorts[table.id];
    var thead = table.createTHead(), head = thead.insertRow();
    columns.forEach(function (column, index) {
      var th = document.createElement('th');
      th.textContent = column[0];
      if (column[3]) th.className = 'text';
      if (sort && sort[0] === index) th.setAttribute('aria-sort', sort[1] > 0 ? 'ascending' : 'descending');
      th.addEventListener('click', function () {
        state.sorts[table.id] = [index, sort && sort[0] === index ? -sort[1] : (column[3] ? 1 : -1)];
        render();
      });
      head.appendChild(th);
    });
    var sorted = rows.slice();
    if (sort && columns[sort[0]]) {
      var by = columns[sort[0]][1], dir = sort[1];
      sorted.sort(function (a, b) {
        var x = by(a), y = by(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    var body = table.createTBody();
    sorted.forEach(function (row) {
      var tr = body.insertRow();
      if (level && isBucket(level, row[0])) tr.className = 'bucket';
      columns.forEach(function (column) { cell(tr, column[2](row), column[3] ? 'text' : ''); });
    });
    if (footer) {
      var tr = table.createTFoot().insertRow();
      footer.forEach(function (text, index) { var td = cell(tr, text, columns[index][3] ? 'text' : ''); if (index === 1) td.id = 'table-total'; });
    }
  }

  function costColumns(level, s) {
    var totalCpu = s.total[1];
    var names = level === 'endpoint'
      ? [['Feature', function (r) { return labels(level, r[0])[0]; }], ['Endpoint', function (r) { return labels(level, r[0])[1]; }]]
      : [[{ team: 'Team', tier: 'Tier', group: 'Feature group', feature: 'Feature' }[level], function (r) { return labels(level, r[0])[0]; }]];
    return names.map(function (n) { return [n[0], n[1], n[1], true]; }).concat([
      ['Cost (' + data.currency + ')', function (r) { return parseFloat(r[1]); }, function (r) { return money(r[1]); }],
      ['CPU share', function (r) { return r[2]; }, function (r) { return totalCpu > 0 ? percent(r[2] / totalCpu) : ''; }],
      ['CPU seconds', function (r) { return r[2]; }, function (r) { return num(r[2], 3); }],
      ['Samples', function (r) { return r[3]; }, function (r) { return num(r[3], 0); }],
      ['Requests', function (r) { return r[4]; }, function (r) { return num(r[4], 0); }],
      ['Cost per request', costPerRequest, function (r) { return fourDigits(costPerRequest(r)); }]
    ]);
  }

  function drawTable(s) {
    var level = state.table, columns = costColumns(level, s);
    var footer = columns.map(function () { return ''; });
    footer[0] = 'Total (the bill)';
    var costAt = columns.findIndex(function (c) { return c[0].indexOf('Cost (') === 0; });
    footer[costAt] = money(s.total[0]);
    footer[costAt + 1] = s.total[1] > 0 ? '100.00%' : '';
    footer[costAt + 2] = num(s.total[1], 3);
    footer[costAt + 3] = num(s.total[2], 0);
    var table = document.getElementById('table');
    fillTable(table, columns, s[level], footer, level);
    if (costAt !== 1) {
      // The endpoint table has two name columns: the total goes under the cost column.
      table.tFoot.rows[0].cells[1].removeAttribute('id');
      table.tFoot.rows[0].cells[costAt].id = 'table-total';
    }
  }

  function csvField(text) {
    text = String(text === null || text === undefined ? '' : text);
    // A leading = + - @ makes spreadsheets evaluate a name as a formula.
    if (/^[=+\-@]/.test(text) && !/^-?\d/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  document.getElementById('csv').addEventListener('click', function () {
    var s = slice();
    if (!s) return;
    var level = state.table;
    var nameColumns = level === 'endpoint' ? ['feature', 'endpoint'] : [level === 'group' ? 'feature_group' : level];
    var lines = [nameColumns.concat(['cost', 'currency', 'cpu_seconds', 'samples', 'requests', 'cost_per_request']).join(',')];
    s[level].forEach(function (r) {
      lines.push(labels(level, r[0]).slice(0, nameColumns.length).concat([r[1], data.currency, r[2], r[3], r[4], fourDigits(costPerRequest(r))]).map(csvField).join(','));
    });
    lines.push(['total'].concat(nameColumns.slice(1).map(function () { return ''; }), [s.total[0], data.currency, s.total[1], s.total[2], '', '']).map(csvField).join(','));
    var link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
    link.download = 'featgen-cost-by-' + level + '.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  function drawChanges(s) {
    var period = data.periods[state.period], table = document.getElementById('changes');
    var summary = document.getElementById('change-summary');
    if (!s.changes) {
      table.textContent = '';
      summary.textContent = 'No rows for the period before ' + period.label +
        ': pick a shorter period, or pass --from with rows before it.';
      return;
    }
    var level = state.changes, changes = s.changes[level];
    summary.textContent = period.label + ' against ' + period.previous + ': ' + changes.compared + ' ' +
      level + 's compared, ' + changes.flagged + ' changed beyond sampling noise; the ' +
      changes.rows.length + ' largest cost impacts shown.';
    var arrow = function (flag, delta) { return flag ? (delta > 0 ? '▲ ' : '▼ ') : ''; };
    var pm = function (margin, digits) { return margin === null ? '' : ' ± ' + digits(margin); };
    var names = level === 'endpoint' ? [0, 1] : [0];
    var columns = names.map(function (i) {
      return [level === 'endpoint' ? ['Feature', 'Endpoint'][i] : (level === 'team' ? 'Team' : 'Feature'),
        function (r) { return labels(level, r[0])[i]; }, function (r) { return labels(level, r[0])[i]; }, true];
    }).concat([
      ['Cost before', function (r) { return parseFloat(r[1]); }, function (r) { return money(r[1]); }],
      ['Cost now', function (r) { return parseFloat(r[2]); }, function (r) { return money(r[2]); }],
      ['Δ cost (95%)', function (r) { return parseFloat(r[3]); }, function (r) { return arrow(r[11] & 1, parseFloat(r[3])) + signed(r[3]) + pm(r[4], function (m) { return num(m, 2); }); }],
      ['CPU share before → now', function (r) { return r[6] - r[5]; }, function (r) { return percent(r[5]) + ' → ' + percent(r[6]); }],
      ['Δ share (95%)', function (r) { return r[6] - r[5]; }, function (r) { return arrow(r[11] & 2, r[6] - r[5]) + ((r[6] - r[5]) * 100).toFixed(2) + ' pt' + pm(r[7], function (m) { return (m * 100).toFixed(2); }); }],
      ['CPU s per request before → now', function (r) { return r[9]; }, function (r) { return r[8] === null || r[9] === null ? '' : num(r[8], 6) + ' → ' + num(r[9], 6); }],
      ['Δ CPU per request (95%)', function (r) { return r[9] === null || r[8] === null ? null : r[9] - r[8]; }, function (r) {
        return r[8] === null || r[9] === null ? '' : arrow(r[11] & 4, r[9] - r[8]) + num(r[9] - r[8], 6) + pm(r[10], function (m) { return num(m, 6); });
      }]
    ]);
    fillTable(table, columns, changes.rows, null, level);
    // Colour the flagged deltas: red for a rise, green for a fall.
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      Array.prototype.forEach.call(tr.cells, function (td) {
        if (td.textContent.indexOf('▲') === 0) td.classList.add('up');
        if (td.textContent.indexOf('▼') === 0) td.classList.add('down');
      });
    });
  }

  function drawNaive(s) {
    // [feature index, naive charge, cost − naive], joined to the feature table's row.
    var byFeature = {};
    s.feature.forEach(function (r) { byFeature[r[0]] = r; });
    var rows = s.naive.map(function (n) { var r = byFeature[n[0]]; return [n[0], r[1], r[4], n[1], n[2]]; });
    var columns = [
      ['Feature', function (r) { return labels('feature', r[0])[0]; }, function (r) { return labels('feature', r[0])[0]; }, true],
      ['Requests', function (r) { return r[2]; }, function (r) { return num(r[2], 0); }],
      ['featgen cost', function (r) { return parseFloat(r[1]); }, function (r) { return money(r[1]); }],
      ['Equal cost per request', function (r) { return parseFloat(r[3]); }, function (r) { return money(r[3]); }],
      ['featgen − naive', function (r) { return parseFloat(r[4]); }, function (r) { return signed(r[4]); }]
    ];
    var table = document.getElementById('naive');
    if (!rows.length) {
      table.textContent = '';
      var caption = table.createCaption();
      caption.textContent = 'No request counts in these rows.';
      return;
    }
    fillTable(table, columns, rows, null, null);
  }

  // ---- everything ----
  function render() {
    document.getElementById('deployment').value = String(state.deployment);
    document.getElementById('period').value = String(state.period);
    pressTabs('table-tabs', state.table);
    pressTabs('change-tabs', state.changes);
    var s = slice(), period = data.periods[state.period];
    document.getElementById('subtitle').textContent = data.deployments[state.deployment] + ' · ' + period.label + ' · ' + data.currency;
    if (!s) {
      s = { total: ['0', 0, 0], team: [], tier: [], group: [], feature: [], endpoint: [], naive: [], changes: null };
    }
    document.getElementById('total-cost').textContent = money(s.total[0]) + ' ' + data.currency;
    document.getElementById('total-cpu').textContent = num(s.total[1], 3);
    document.getElementById('total-samples').textContent = num(s.total[2], 0);
    drawPie(s);
    drawSunburst(s);
    drawArea();
    drawTable(s);
    drawChanges(s);
    drawNaive(s);
  }

  // The default period: the whole window when the rows cover the one before it, else the last
  // period that has a previous one to compare with ("what changed last week?").
  for (var p = data.periods[0].previous ? 0 : data.periods.length - 1; p > 0; p -= 1) {
    if (data.periods[p].previous) { state.period = p; break; }
  }
  render();
  performance.mark('featgen-rendered');
  window.featgenReport = { data: data, state: state, charts: charts, sunburstRoot: sunburstRoot, render: render };
})();
