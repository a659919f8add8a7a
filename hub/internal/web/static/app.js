// floorpulse pages: charts (Apache ECharts), the live board and the wall
// display. Every string comes from the page's message catalogue (data.i18n);
// every time is shown in the plant's zone (data.zone). No inline script or
// style: the page's data is a JSON element, styles are classes.
(function () {
  'use strict';

  var el = document.getElementById('page-data');
  var data = el ? JSON.parse(el.textContent || '{}') || {} : {};
  var lang = document.body.dataset.lang || 'en';
  var page = document.body.dataset.page || '';
  var cat = data.i18n || {};
  var zone = data.zone || 'UTC';
  var dark = document.documentElement.classList.contains('dark');

  function T(key) {
    return Object.prototype.hasOwnProperty.call(cat, key) ? cat[key] : '!' + key + '!';
  }

  var numFmt = {};
  function num(v, d) {
    if (v === null || v === undefined || isNaN(v)) { return '–'; }
    var f = numFmt[d] || (numFmt[d] = new Intl.NumberFormat(lang, { minimumFractionDigits: d, maximumFractionDigits: d }));
    return f.format(v);
  }
  function pct(v) { return v === null || v === undefined ? '–' : num(v * 100, 1) + '%'; }

  var timeFmt = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  var dayTimeFmt = new Intl.DateTimeFormat(lang, { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  var clockFmt = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });

  // Month (YYYY-MM) and day (YYYY-MM-DD) names in the language.
  var monthFmt = new Intl.DateTimeFormat(lang, { timeZone: 'UTC', year: 'numeric', month: 'short' });
  var dayFmt = new Intl.DateTimeFormat(lang, { timeZone: 'UTC', month: 'numeric', day: 'numeric', weekday: 'short' });
  function monthName(m) { var p = m.split('-'); return monthFmt.format(new Date(Date.UTC(+p[0], +p[1] - 1, 1))); }
  function dayName(d) { var p = d.split('-'); return dayFmt.format(new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]))); }

  function dur(ms) {
    if (!(ms >= 0)) { ms = 0; }
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return (h > 0 ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + (s < 10 ? '0' : '') + s;
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = text; }
    return n;
  }

  // States in their fixed order, with their colours (the CSS uses the same).
  var states = ['running', 'idle', 'setup', 'down', 'planned_stop', 'no_shift', 'unknown'];
  var colors = {
    running: '#2e9d4f', idle: '#e0b020', setup: '#4a78d0', down: '#d23b3b',
    planned_stop: '#8a8a8a', no_shift: '#c8c8c8', unknown: '#eeeeee'
  };
  if (dark) { colors.unknown = '#333333'; colors.no_shift = '#555555'; }

  function chart(id) {
    var box = typeof id === 'string' ? document.getElementById(id) : id;
    if (!box || !window.echarts) { return null; }
    var c = window.echarts.init(box, dark ? 'dark' : null, { locale: lang === 'zh-CN' ? 'ZH' : 'EN' });
    window.addEventListener('resize', function () { c.resize(); });
    return c;
  }

  // The tooltip is drawn in the canvas (richText), not as HTML with style
  // attributes, which the pages' Content-Security-Policy refuses.
  var tooltip = { trigger: 'axis', renderMode: 'richText' };

  function legend() {
    var box = document.getElementById('legend');
    if (!box) { return; }
    states.forEach(function (s) {
      var item = node('span', 'key');
      item.appendChild(node('i', 'sw ' + s));
      item.appendChild(document.createTextNode(T('state.' + s)));
      box.appendChild(item);
    });
  }

  // A Gantt of rows of [start, end, state] on a numeric x axis.
  // sessions (optional): [row, from, to, operators] drawn as a thin band
  // at the foot of their row.
  function gantt(c, rows, xmin, xmax, xfmt, interval, marks, sessions) {
    var items = [];
    rows.forEach(function (r, y) {
      r.segs.forEach(function (s) {
        items.push({ value: [y, s[0], s[1], s[2]], itemStyle: { color: colors[s[2]] } });
      });
    });
    var series = [{
      type: 'custom',
      renderItem: function (params, api) {
        var y = api.value(0), a = api.coord([api.value(1), y]), b = api.coord([api.value(2), y]);
        var h = api.size([0, 1])[1] * 0.7;
        var rect = window.echarts.graphic.clipRectByRect(
          { x: a[0], y: a[1] - h / 2, width: Math.max(b[0] - a[0], 0.5), height: h },
          { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
        return rect && { type: 'rect', shape: rect, style: api.style() };
      },
      encode: { x: [1, 2], y: 0 },
      data: items
    }];
    if (sessions && sessions.length) {
      series.push({
        type: 'custom', z: 4,
        renderItem: function (params, api) {
          var y = api.value(0), a = api.coord([api.value(1), y]), b = api.coord([api.value(2), y]);
          var row = api.size([0, 1])[1];
          var band = window.echarts.graphic.clipRectByRect(
            { x: a[0], y: a[1] + row * 0.2, width: Math.max(b[0] - a[0], 0.5), height: row * 0.15 },
            { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
          return band && { type: 'rect', shape: band, style: { fill: dark ? '#e6edf3' : '#1d2430', opacity: 0.55 } };
        },
        encode: { x: [1, 2], y: 0 },
        data: sessions.map(function (s) { return { value: s }; })
      });
    }
    if (marks && marks.length) {
      series.push({ type: 'scatter', symbol: 'pin', symbolSize: 22, itemStyle: { color: '#b00020' }, z: 5, data: marks });
    }
    c.setOption({
      animation: false,
      grid: { left: 90, right: 20, top: 10, bottom: 30 },
      tooltip: { show: false },
      xAxis: { type: 'value', min: xmin, max: xmax, interval: interval, axisLabel: { formatter: xfmt }, splitLine: { show: true } },
      yAxis: { type: 'category', inverse: true, data: rows.map(function (r) { return r.name; }) },
      series: series
    });
  }

  function pickers() {
    ['month', 'day', 'span'].forEach(function (id) {
      var s = document.getElementById(id);
      if (s) { s.addEventListener('change', function () { s.form.submit(); }); }
    });
  }

  // ---- overview
  function overview() {
    var tr = data.trend || [];
    var c = chart('trend-chart');
    if (!c) { return; }
    var lines = {};
    tr.forEach(function (m) { Object.keys(m.lines || {}).forEach(function (l) { lines[l] = true; }); });
    var series = [{ name: T('fig.run_hours'), type: 'bar', yAxisIndex: 1, itemStyle: { color: '#9cc3e6' },
      data: tr.map(function (m) { return +m.site.run_hours.toFixed(1); }) },
    { name: T('fig.active_rate') + ' · ' + T('layout.site'), type: 'line', lineStyle: { width: 3 },
      data: tr.map(function (m) { return +(m.site.active_rate * 100).toFixed(1); }) }];
    Object.keys(lines).sort().forEach(function (l) {
      series.push({ name: T('fig.active_rate') + ' · ' + l, type: 'line',
        data: tr.map(function (m) { return m.lines[l] ? +(m.lines[l].active_rate * 100).toFixed(1) : null; }) });
    });
    series.push(oeeSeries(tr.map(function (m) { return m.site.oee; })));
    c.setOption({
      animation: false, tooltip: tooltip, legend: { top: 0, type: 'scroll' },
      grid: { left: 50, right: 60, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: tr.map(function (m) { return monthName(m.month); }) },
      yAxis: [{ type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
        { type: 'value', name: T('js.hours') }],
      series: series
    });
    document.body.dataset.charts = 'drawn';
  }

  // ---- line
  function line() {
    (data.machines || []).forEach(function (m, i) {
      var box = document.querySelector('.spark[data-row="' + i + '"]');
      var c = box && chart(box);
      if (!c) { return; }
      c.setOption({ animation: false, grid: { left: 2, right: 2, top: 2, bottom: 2 },
        xAxis: { type: 'category', show: false, data: (m.days || []).map(function (_, d) { return d + 1; }) },
        yAxis: { type: 'value', show: false, min: 0, max: 24 },
        series: [{ type: 'bar', data: (m.days || []).map(function (h) { return +h.toFixed(2); }), itemStyle: { color: colors.running }, barCategoryGap: '10%' }] });
    });
    // Pareto of the month's down hours by machine, with the cumulative share.
    var pc = chart('pareto');
    if (pc) {
      var down = (data.machines || []).map(function (m) { return { name: m.equipment, h: (m.state_hours || {}).down || 0 }; })
        .filter(function (d) { return d.h > 0; }).sort(function (a, b) { return b.h - a.h; });
      var total = down.reduce(function (s, d) { return s + d.h; }, 0), cum = 0;
      pc.setOption({ animation: false, tooltip: tooltip, grid: { left: 50, right: 60, top: 30, bottom: 30 },
        xAxis: { type: 'category', data: down.map(function (d) { return d.name; }) },
        yAxis: [{ type: 'value', name: T('js.hours') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
        series: [{ type: 'bar', name: T('state.down'), itemStyle: { color: colors.down }, data: down.map(function (d) { return +d.h.toFixed(2); }) },
          { type: 'line', name: '%', yAxisIndex: 1, data: down.map(function (d) { cum += d.h; return total ? +(100 * cum / total).toFixed(1) : 0; }) }] });
    }
    alarmPareto();
    var g = chart('gantt');
    if (g) {
      var from = Date.parse(data.from), to = Date.parse(data.to);
      var rows = (data.gantt || []).map(function (r) {
        return { name: r.equipment, segs: (r.states || []).map(function (s) { return [Date.parse(s.start), Date.parse(s.end), s.state]; }) };
      });
      var index = {};
      rows.forEach(function (r, i) { index[r.name] = i; });
      var marks = (data.events || []).filter(function (e) { return index[e.equipment] !== undefined; }).map(function (e) {
        return { value: [Math.max(Date.parse(e.start), from), index[e.equipment]], name: T('type.' + e.type) };
      });
      var box = document.getElementById('gantt');
      box.style.height = (50 + rows.length * 30) + 'px'; // CSSOM, allowed by the policy
      g.resize();
      var hours = (to - from) / 3600000;
      var fmt = hours > 25 ? function (v) { return dayTimeFmt.format(new Date(v)); } : function (v) { return timeFmt.format(new Date(v)); };
      var step = hours > 25 ? 12 : hours > 12 ? 2 : 1;
      gantt(g, rows, from, to, fmt, step * 3600 * 1000, marks);
    }
    legend();
    document.body.dataset.charts = 'drawn';
  }

  // Pareto of the month's down hours by alarm code (data.alarms, largest
  // first), with the cumulative share; the page's table has the figures.
  function alarmPareto() {
    var c = chart('alarm-pareto');
    if (!c) { return; }
    var rows = (data.alarms || []).filter(function (a) { return a.seconds > 0; });
    var total = rows.reduce(function (s, a) { return s + a.seconds; }, 0), cum = 0;
    var label = function (code) { return code === '' ? T('alarm.none') : code === '?' ? T('alarm.unknown') : code; };
    c.setOption({ animation: false, tooltip: tooltip, grid: { left: 50, right: 60, top: 30, bottom: 30 },
      xAxis: { type: 'category', data: rows.map(function (a) { return label(a.code); }) },
      yAxis: [{ type: 'value', name: T('js.hours') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
      series: [{ type: 'bar', name: T('alarm.down_hours'), itemStyle: { color: colors.down }, data: rows.map(function (a) { return +(a.seconds / 3600).toFixed(2); }) },
        { type: 'line', name: '%', yAxisIndex: 1, data: rows.map(function (a) { cum += a.seconds; return total ? +(100 * cum / total).toFixed(1) : 0; }) }] });
  }

  // ---- machine
  function machine() {
    // rows: one per day, its states as [hours from the day's start, to, state]
    var rows = (data.days || []).map(function (d) { return { name: dayName(d.day), segs: d.segs || [] }; });
    var c = chart('days');
    if (c) {
      var marks = (data.marks || []).map(function (m) { return { value: [m.hours, m.row], name: T('type.' + m.type) }; });
      var xmax = 24; // 25 on the day the clocks go back
      rows.forEach(function (r) { r.segs.forEach(function (s) { xmax = Math.max(xmax, Math.ceil(s[1])); }); });
      gantt(c, rows, 0, xmax, function (v) { return v + ':00'; }, 2, marks, data.sessions || []);
      document.getElementById('days').style.height = (50 + rows.length * 22) + 'px';
      c.resize();
    }
    legend();
    alarmPareto();
    var tc = chart('trend-chart');
    if (tc) {
      var tr = data.trend || [];
      tc.setOption({ animation: false, tooltip: tooltip, legend: { top: 0 },
        grid: { left: 50, right: 60, top: 40, bottom: 30 },
        xAxis: { type: 'category', data: tr.map(function (m) { return monthName(m.month); }) },
        yAxis: [{ type: 'value', name: T('js.hours') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
        series: [{ name: T('fig.run_hours'), type: 'bar', itemStyle: { color: '#9cc3e6' }, data: tr.map(function (m) { return +m.run_hours.toFixed(1); }) },
          { name: T('fig.utilization'), type: 'line', yAxisIndex: 1, data: tr.map(function (m) { return +(m.utilization * 100).toFixed(1); }) },
          { name: T('fig.coverage'), type: 'line', yAxisIndex: 1, data: tr.map(function (m) { return +(m.coverage * 100).toFixed(1); }) },
          Object.assign(oeeSeries(tr.map(function (m) { return m.oee; })), { yAxisIndex: 1 })] });
    }
    document.body.dataset.charts = 'drawn';
  }

  // ---- operators
  function operators() {
    (data.site || []).forEach(function (o, i) {
      var box = document.querySelector('.spark[data-op="' + i + '"]');
      var c = box && chart(box);
      if (!c) { return; }
      c.setOption({ animation: false, grid: { left: 2, right: 2, top: 2, bottom: 2 },
        xAxis: { type: 'category', show: false, data: (o.hours || []).map(function (_, m) { return m; }) },
        yAxis: { type: 'value', show: false, min: 0 },
        series: [{ type: 'line', symbol: 'none', areaStyle: { opacity: 0.2 }, data: (o.hours || []).map(function (h) { return +h.toFixed(1); }), itemStyle: { color: '#4a78d0' } }] });
    });
    var rows = (data.site || []).slice(0, 20);
    var c = chart('ops-chart');
    if (!c) { return; }
    c.setOption({ animation: false, tooltip: tooltip, grid: { left: 90, right: 30, top: 10, bottom: 30 },
      xAxis: { type: 'value', axisLabel: { formatter: '{value}%' } },
      yAxis: { type: 'category', inverse: true, data: rows.map(function (o) { return o.operator; }) },
      series: [{ type: 'bar', name: T('operators.share'), itemStyle: { color: '#4a78d0' },
        data: rows.map(function (o) { return o.share === undefined ? 0 : +(o.share * 100).toFixed(1); }) }] });
    document.body.dataset.charts = 'drawn';
  }

  // ---- acknowledge and resolve (the events API decides who may)
  function act(kind, id, done) {
    return fetch('/api/v1/events/' + encodeURIComponent(id) + '/' + kind, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' }, body: '{}'
    }).then(function (r) {
      if (r.ok) { done(null); return; }
      return r.json().then(function (j) { done(r.status + ' ' + (j.error || '')); }, function () { done(String(r.status)); });
    }, function (err) { done(String(err)); });
  }

  function events() {
    document.querySelectorAll('button.act').forEach(function (b) {
      b.addEventListener('click', function () {
        b.disabled = true;
        act(b.dataset.act, b.dataset.id, function (err) {
          if (err) { b.disabled = false; b.parentNode.appendChild(node('span', 'bad err', T('js.ack_failed') + ' ' + err)); return; }
          window.location.reload();
        });
      });
    });
  }

  // ---- live board and wall: one line's stream
  var offset = 0; // server clock minus browser clock
  var snap = null;

  var order = { down: 0, idle: 1, setup: 2, unknown: 3, planned_stop: 4, no_shift: 5, running: 6 };

  function renderBoard(s) {
    snap = s;
    offset = Date.parse(s.now) - Date.now();
    var shift = document.getElementById('shift');
    shift.textContent = s.shift ? T('js.shift') + ' ' + s.shift : T('js.no_shift');
    // Rows of open downtime are kept while they do not change, so that a
    // push never takes away the button a finger is on.
    var down = document.getElementById('downtime');
    var evs = (s.open_events || []).filter(function (e) { return e.type === 'unplanned_downtime'; });
    var old = {};
    down.querySelectorAll('.stop').forEach(function (r) { old[r.dataset.key] = r; });
    down.textContent = '';
    down.appendChild(node('h2', '', T('js.open_downtime')));
    if (!evs.length) { down.appendChild(node('p', 'calm', T('js.no_downtime'))); }
    evs.forEach(function (e) {
      var key = e.id + '/' + e.revision;
      down.appendChild(old[key] || stopRow(e, key));
    });
    var board = document.getElementById('board');
    board.textContent = '';
    var ms = (s.machines || []).slice().sort(function (a, b) {
      return (order[a.state] - order[b.state]) || (a.equipment < b.equipment ? -1 : 1);
    });
    ms.forEach(function (m) {
      var card = node('div', 'machine ' + m.state);
      card.dataset.equipment = m.equipment;
      card.dataset.state = m.state;
      card.appendChild(node('div', 'eq', m.equipment));
      card.appendChild(node('div', 'st', T('state.' + m.state)));
      var since = node('div', 'tick', '');
      if (m.since) { since.dataset.since = m.since; }
      card.appendChild(since);
      var run = node('div', 'run', '');
      run.dataset.run = m.today_run_hours;
      if (m.state === 'running' && m.last_seen) { run.dataset.from = m.last_seen; }
      card.appendChild(run);
      board.appendChild(card);
    });
    tick();
  }

  function stopRow(e, key) {
    var row = node('div', 'stop ' + e.status);
    row.dataset.event = e.id;
    row.dataset.status = e.status;
    row.dataset.key = key;
    row.appendChild(node('b', 'eq', e.equipment));
    var t = node('span', 'tick big', '');
    t.dataset.since = e.start;
    row.appendChild(t);
    row.appendChild(node('span', 'st', T('status.' + e.status) + (e.acknowledged_by ? ' · ' + e.acknowledged_by : '')));
    if (data.can_act && e.status === 'opened') {
      var b = node('button', 'act ack', T('ev.ack'));
      b.dataset.id = e.id;
      b.addEventListener('click', function () {
        b.disabled = true;
        act('ack', e.id, function (err) {
          if (err) { b.disabled = false; row.appendChild(node('span', 'bad err', T('js.ack_failed') + ' ' + err)); }
        });
      });
      row.appendChild(b);
    }
    return row;
  }

  function tick() {
    var now = Date.now() + offset;
    var clock = document.getElementById('clock');
    if (clock) { clock.textContent = clockFmt.format(new Date(now)); }
    document.querySelectorAll('[data-since]').forEach(function (n) {
      n.textContent = T('js.since') + ' ' + dur(now - Date.parse(n.dataset.since));
    });
    document.querySelectorAll('[data-run]').forEach(function (n) {
      var h = parseFloat(n.dataset.run) || 0;
      if (n.dataset.from) { h += Math.max(0, now - Date.parse(n.dataset.from)) / 3600000; }
      n.textContent = T('js.today_run') + ' ' + num(h, 2) + ' ' + T('js.hours');
    });
  }

  var source = null;
  function connect(lineName) {
    if (source) { source.close(); }
    var conn = document.getElementById('conn');
    source = new EventSource('/api/v1/lines/' + encodeURIComponent(lineName) + '/stream');
    source.addEventListener('line', function (e) {
      renderBoard(JSON.parse(e.data));
      conn.textContent = T('js.connected');
      conn.className = 'conn on';
      document.body.dataset.updates = String((parseInt(document.body.dataset.updates || '0', 10)) + 1);
    });
    source.addEventListener('error', function () { conn.textContent = T('js.reconnecting'); conn.className = 'conn off'; });
  }

  function boardPage() {
    if (data.now) { renderBoard(data.now); }
    connect(data.line);
    setInterval(tick, 1000);
  }

  function wall() {
    var lines = data.lines || [];
    var i = 0;
    var title = document.getElementById('title');
    function show() {
      if (!lines.length) { return; }
      title.textContent = lines[i] + ' · ' + T('wall.title');
      document.body.dataset.line = lines[i];
      connect(lines[i]);
      i = (i + 1) % lines.length;
    }
    show();
    setInterval(show, (data.every || 20) * 1000);
    setInterval(tick, 1000);
  }

  // The OEE of each month of a trend (percent; a gap where a month has none).
  function oeeSeries(oees) {
    return { name: T('oee.oee'), type: 'line', lineStyle: { type: 'dashed', width: 2 }, itemStyle: { color: '#a05cc0' },
      data: oees.map(function (o) { return o && o.oee !== undefined ? +(o.oee * 100).toFixed(1) : null; }) };
  }

  // ---- OEE: a waterfall of the planned busy time (data.oee.loss_hours):
  // less the availability, performance and quality losses, down to the
  // fully productive time. A loss is a floating bar between the level
  // before it and after it (negative when faster than the ideal cycle).
  function oeeWaterfall() {
    var l = data.oee && data.oee.loss_hours;
    var c = l && chart('oee-waterfall');
    if (!c) { return; }
    var pbt = l.availability + l.performance + l.quality + l.productive;
    var steps = [['oee.pbt', 0, pbt, '#4a78d0'], ['oee.loss_availability', pbt - l.availability, pbt, '#d23b3b'],
      ['oee.loss_performance', l.productive + l.quality, pbt - l.availability, '#e0b020'],
      ['oee.loss_quality', l.productive, l.productive + l.quality, '#a05cc0'], ['oee.productive', 0, l.productive, '#2e9d4f']];
    var lo = function (s) { return +Math.min(s[1], s[2]).toFixed(2); };
    c.setOption({ animation: false, tooltip: tooltip, grid: { left: 60, right: 20, top: 20, bottom: 30 },
      xAxis: { type: 'category', data: steps.map(function (s) { return T(s[0]); }) },
      yAxis: { type: 'value', name: T('js.hours') },
      series: [{ type: 'bar', stack: 'w', silent: true, itemStyle: { color: 'transparent' }, data: steps.map(lo) },
        { type: 'bar', stack: 'w', name: T('js.hours'),
          data: steps.map(function (s) { return { value: +Math.abs(s[2] - s[1]).toFixed(2), itemStyle: { color: s[3] } }; }) }] });
    document.body.dataset.oee = 'drawn';
  }

  // ---- OEE by day (data.oee_days, the API's days of the month): the
  // planned busy time of each day as stacked bars of the fully productive
  // time and the three losses (hours), with the OEE as a line. A click on a
  // day (or its button in the shift table) shows its shifts and hours, from
  // the API's breakdowns of that day for the page's scope.
  var lossColors = { productive: '#2e9d4f', quality: '#a05cc0', performance: '#e0b020', availability: '#d23b3b' };

  function oeePeriods() {
    var box = document.getElementById('oee-periods');
    if (!box) { return; }
    var days = data.oee_days || [];
    var c = days.length && chart('oee-days');
    if (c) {
      var loss = function (k) {
        return days.map(function (d) { var l = d.oee && d.oee.loss_hours; return l ? +l[k].toFixed(2) : null; });
      };
      var bar = function (k, key) {
        return { name: T(key), type: 'bar', stack: 'pbt', itemStyle: { color: lossColors[k] }, data: loss(k) };
      };
      c.setOption({ animation: false, tooltip: tooltip, legend: { top: 0 },
        grid: { left: 50, right: 60, top: 40, bottom: 30 },
        xAxis: { type: 'category', data: days.map(function (d) { return String(+d.period.slice(8, 10)); }) },
        yAxis: [{ type: 'value', name: T('js.hours') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
        series: [bar('productive', 'oee.productive'), bar('quality', 'oee.loss_quality'), bar('performance', 'oee.loss_performance'),
          bar('availability', 'oee.loss_availability'), Object.assign(oeeSeries(days.map(function (d) { return d.oee; })), { yAxisIndex: 1 })] });
      c.getZr().on('click', function (e) {
        var at = c.convertFromPixel({ xAxisIndex: 0 }, e.offsetX);
        var i = Math.round(at);
        if (i >= 0 && i < days.length) { oeeDay(days[i].period, box.dataset.query || ''); }
      });
      document.body.dataset.oeeDays = 'drawn';
    }
    document.querySelectorAll('button.day-pick').forEach(function (b) {
      b.addEventListener('click', function () { oeeDay(b.dataset.day, box.dataset.query || ''); });
    });
  }

  // oeeDay shows a day's shifts and hours below the chart.
  function oeeDay(day, query) {
    var panel = document.getElementById('oee-day');
    var out = document.getElementById('oee-day-tables');
    if (!panel || !out) { return; }
    panel.hidden = false;
    document.getElementById('oee-day-title').textContent = dayName(day) + ' · ' + T('oee.day_detail');
    out.textContent = '';
    out.appendChild(node('p', 'note', T('oee.loading')));
    var get = function (kind) {
      return fetch('/api/v1/days/' + encodeURIComponent(day) + '/' + kind + (query ? '?' + query : ''),
        { credentials: 'same-origin', headers: { 'Accept': 'application/json' } }).then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { throw new Error(r.status + ' ' + t); }); }
        return r.json();
      });
    };
    Promise.all([get('shifts'), get('hours')]).then(function (res) {
      out.textContent = '';
      if (res[0].periods.length) { out.appendChild(periodTable(res[0].periods, 'oee.shift', 'oee-day-shifts', function (p) { return p.shift; })); }
      out.appendChild(periodTable(res[1].periods, 'oee.hour', 'oee-day-hours', function (p) { return timeFmt.format(new Date(p.start)); }));
      document.body.dataset.oeeDay = day;
    }).catch(function (err) {
      out.textContent = '';
      out.appendChild(node('p', 'bad', T('oee.failed') + ' ' + err.message));
    });
  }

  // periodTable is a table of periods: OEE, its factors, parts, the main
  // loss and energy.
  function periodTable(periods, head, id, label) {
    var t = node('table', 'figs');
    t.id = id;
    var tr = node('tr');
    [head, 'oee.oee', 'oee.availability', 'oee.performance', 'oee.quality', 'oee.good', 'oee.scrap', 'oee.main_loss', 'energy.kwh', 'energy.waste']
      .forEach(function (k) { tr.appendChild(node('th', '', T(k))); });
    t.appendChild(node('thead')).appendChild(tr);
    var tb = t.appendChild(node('tbody'));
    periods.forEach(function (p) {
      var o = p.oee || {}, en = p.energy;
      var row = node('tr');
      row.dataset.period = p.period;
      [[label(p), ''], [pct(o.oee), 'oee'], [pct(o.availability), ''], [pct(o.performance), ''], [pct(o.quality), ''],
        [p.oee ? num(o.parts_good, 0) : '–', 'parts_good'], [p.oee ? num(o.parts_scrap, 0) : '–', ''],
        [p.main_loss ? T('oee.loss_' + p.main_loss) : '–', 'main_loss'], [en ? num(en.kwh, 1) : '–', 'energy_kwh'], [en ? num(en.waste_kwh, 1) : '–', '']]
        .forEach(function (cell) {
          var td = node('td', '', cell[0]);
          if (cell[1]) { td.dataset.fig = cell[1]; }
          row.appendChild(td);
        });
      tb.appendChild(row);
    });
    var box = node('div', 'scroll');
    box.appendChild(t);
    return box;
  }

  // ---- master data (admin): check a file (a dry run), apply it, the audit log
  function masterdata() {
    var entity = document.getElementById('md-entity');
    var file = document.getElementById('md-file');
    var check = document.getElementById('md-check');
    var apply = document.getElementById('md-apply');
    var out = document.getElementById('md-result');
    var exp = document.getElementById('md-export');
    var checked = null; // the body a dry run accepted
    function reset() {
      checked = null;
      apply.disabled = true;
      out.textContent = '';
      exp.href = '/api/v1/masterdata/' + encodeURIComponent(entity.value) + '?format=csv';
    }
    entity.addEventListener('change', reset);
    file.addEventListener('change', reset);
    function table(head, rows, id) {
      var t = node('table', 'figs');
      if (id) { t.id = id; }
      var tr = node('tr');
      head.forEach(function (h) { tr.appendChild(node('th', '', h)); });
      t.appendChild(node('thead')).appendChild(tr);
      var tb = t.appendChild(node('tbody'));
      rows.forEach(function (r) {
        var row = node('tr');
        r.forEach(function (c) { row.appendChild(node('td', '', c)); });
        tb.appendChild(row);
      });
      var box = node('div', 'scroll');
      box.appendChild(t);
      return box;
    }
    function changed(c) {
      if (!c.before) { return T('masterdata.added'); }
      return Object.keys(c.after).sort().filter(function (k) { return c.before[k] !== c.after[k]; })
        .map(function (k) { return k + ': ' + (c.before[k] || '–') + ' → ' + (c.after[k] || '–'); }).join('; ');
    }
    function send(body, dry) {
      var name = (file.files[0] || {}).name || '';
      var type = /\.json$/i.test(name) ? 'application/json' : 'text/csv';
      return fetch('/api/v1/masterdata/' + encodeURIComponent(entity.value) + (dry ? '?dry_run=1' : ''), {
        method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': type, 'Accept': 'application/json' }, body: body
      }).then(function (r) {
        return r.text().then(function (txt) {
          var j = null;
          try { j = JSON.parse(txt); } catch (e) { j = null; }
          if (!j) { throw new Error(r.status + ' ' + txt); }
          return j;
        });
      });
    }
    // problemText says a problem in the page's language: the catalogue's
    // text of its code with its arguments put in; the hub's English message
    // for a code the catalogue does not know.
    function problemText(p) {
      var key = 'masterdata.problem.' + p.code;
      if (!p.code || !Object.prototype.hasOwnProperty.call(cat, key)) { return p.message; }
      return cat[key].replace(/\{([a-z_]+)\}/g, function (m, name) {
        return p.args && Object.prototype.hasOwnProperty.call(p.args, name) ? p.args[name] : m;
      });
    }
    function show(j, dry) {
      out.textContent = '';
      if (j.problems && j.problems.length) {
        out.appendChild(node('p', 'bad', T('masterdata.problems') + ' (' + j.problems.length + ')'));
        out.appendChild(table([T('masterdata.line'), T('masterdata.column'), T('masterdata.message')],
          j.problems.map(function (p) { return [String(p.line), p.column || '', problemText(p)]; }), 'md-problems'));
        return;
      }
      var d = j.diff;
      out.appendChild(node('p', dry ? '' : 'calm', (dry ? T('masterdata.would') : T('masterdata.applied')) + ' ' +
        T('masterdata.added') + ' ' + d.added + ' · ' + T('masterdata.changed') + ' ' + d.changed + ' · ' + T('masterdata.unchanged') + ' ' + d.unchanged));
      if (d.changes.length) {
        out.appendChild(table([T('masterdata.key'), T('masterdata.changes')],
          d.changes.map(function (c) { return [c.key, changed(c)]; }), 'md-diff'));
      }
    }
    function failed(err) { out.textContent = ''; out.appendChild(node('p', 'bad', T('masterdata.failed') + ' ' + err.message)); }
    check.addEventListener('click', function () {
      var f = file.files[0];
      if (!f) { out.textContent = ''; out.appendChild(node('p', 'bad', T('masterdata.no_file'))); return; }
      f.text().then(function (body) {
        return send(body, true).then(function (j) {
          show(j, true);
          checked = j.problems && j.problems.length ? null : body;
          apply.disabled = !checked || !j.diff.changes.length;
        });
      }).catch(failed);
    });
    apply.addEventListener('click', function () {
      if (checked === null) { return; }
      apply.disabled = true;
      send(checked, false).then(function (j) { show(j, false); checked = null; audit(); }).catch(failed);
    });
    function audit() {
      fetch('/api/v1/masterdata/audit?last=1&limit=200', { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (r) { return r.json(); }).then(function (j) {
          var tb = document.querySelector('#md-audit tbody');
          tb.textContent = '';
          (j.changes || []).slice().reverse().forEach(function (c) {
            var row = node('tr');
            [String(c.seq), new Date(c.at).toLocaleString(lang, { timeZone: zone }), c.by, T('masterdata.entity.' + c.entity), c.key, String(c.version), changed(c)]
              .forEach(function (v) { row.appendChild(node('td', '', v)); });
            tb.appendChild(row);
          });
          document.body.dataset.audit = String((j.changes || []).length);
        }).catch(failed);
    }
    audit();
  }

  // ---- actions: open one, change one (the actions API decides who may)
  function sendAction(method, path, body, form) {
    var err = form.querySelector('.err');
    var b = form.querySelector('button');
    b.disabled = true;
    err.textContent = '';
    fetch(path, { method: method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body) }).then(function (r) {
      if (r.ok) { window.location.href = '/actions'; return; }
      return r.json().then(function (j) { throw new Error(r.status + ' ' + (j.error || '')); }, function () { throw new Error(String(r.status)); });
    }).catch(function (e) {
      b.disabled = false;
      err.className = 'err bad';
      err.textContent = T('actions.failed') + ' ' + e.message;
    });
  }

  function actionsPage() {
    var nf = document.getElementById('action-new');
    if (nf) {
      nf.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var d = nf.dataset, subject = { kind: d.kind, site: d.site };
        ['event', 'line', 'equipment', 'operator', 'month', 'segment'].forEach(function (k) { if (d[k]) { subject[k] = d[k]; } });
        sendAction('POST', '/api/v1/actions', { what: nf.elements.what.value, owner: nf.elements.owner.value, due: nf.elements.due.value, subject: subject }, nf);
      });
    }
    document.querySelectorAll('form.action-edit').forEach(function (f) {
      f.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var body = {};
        ['what', 'owner', 'due', 'status', 'note'].forEach(function (k) {
          var e = f.elements[k];
          if (e && k !== 'status' && e.value !== e.defaultValue) { body[k] = e.value; }
          if (k === 'status' && e) {
            var sel = Array.prototype.filter.call(e.options, function (o) { return o.defaultSelected; })[0];
            if (!sel || sel.value !== e.value) { body.status = e.value; }
          }
        });
        sendAction('PATCH', '/api/v1/actions/' + encodeURIComponent(f.dataset.id), body, f);
      });
    });
  }

  pickers();
  var run = { overview: overview, line: line, machine: machine, operators: operators, events: events, actions: actionsPage, board: boardPage, wall: wall, masterdata: masterdata }[page];
  if (run) { run(); }
  oeeWaterfall();
  oeePeriods();
  document.body.dataset.ready = 'yes';
})();
