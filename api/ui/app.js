// The overview page "Mina ärenden": plain JavaScript without a build step.
// Every data request goes to /mina-arenden/api/, where ma-api checks the
// session cookie and authorises and audits the request as it does /v1.
// Live updates arrive as Server-Sent Events named "andring" that carry no
// data; the page then reads the overview again (docs/ui.md).
'use strict';

(() => {
  const TEXT = {
    sv: {
      skip: 'Hoppa till innehållet',
      agency: 'Exempelmyndighetens Mina sidor',
      service: 'Mina ärenden',
      tools: 'Verktyg',
      signOut: 'Logga ut',
      loading: 'Laddar …',
      footer: 'Uppgifterna kommer från de myndigheter och kommuner som handlägger dina ärenden. Sidan uppdateras automatiskt när något händer.',
      otherLanguage: 'English',
      signInTitle: 'Logga in',
      signInDemo: 'Det här är en demonstration med påhittade personer. Välj vem du vill logga in som.',
      signInMissing: 'Inloggning är inte konfigurerad för den här tjänsten. Starta ma-api med --ui.demo-users för att prova med demoanvändare.',
      chooseUser: 'Välj användare',
      actFor: 'Vem vill du se ärenden för?',
      self: 'Mig själv',
      representative: 'Som företrädare för {0}',
      signInButton: 'Logga in',
      signedInAs: 'Inloggad som {0}',
      actingFor: 'Du ser ärenden för {0} ({1}).',
      ownCases: 'Du ser dina egna ärenden.',
      title: 'Mina ärenden',
      intro: 'Här ser du dina ärenden hos myndigheter och kommuner, samlade på ett ställe.',
      todo: 'Att göra',
      todoEmpty: 'Du har inget att göra just nu.',
      ongoing: 'Pågående ärenden',
      ongoingEmpty: 'Du har inga pågående ärenden.',
      finished: 'Avslutade ärenden ({0})',
      finishedEmpty: 'Du har inga avslutade ärenden.',
      news: 'Nytt sedan du loggade in',
      newsEvent: 'Ny händelse i {0}: {1}',
      caseRef: 'Ärende',
      agencyLabel: 'Handläggs av',
      updated: 'Senast uppdaterad',
      deadline: 'Sista dag',
      overdue: '{0} (har passerat)',
      statusTodo: 'Du behöver göra något',
      statusOngoing: 'Pågår',
      statusFinished: 'Avslutat',
      newBadge: 'Ny',
      showHistory: 'Visa händelser ({0})',
      hideHistory: 'Dölj händelser',
      historyTitle: 'Händelser i ärendet',
      historyLoading: 'Hämtar händelser …',
      error: 'Något gick fel: {0}',
      live: 'Sidan uppdateras automatiskt.',
      liveLost: 'Automatisk uppdatering är avbruten. Ladda om sidan för att se det senaste.',
      signedOut: 'Du är utloggad.',
      count: '{0} st',
    },
    en: {
      skip: 'Skip to content',
      agency: "Example agency's My pages",
      service: 'My cases',
      tools: 'Tools',
      signOut: 'Sign out',
      loading: 'Loading …',
      footer: 'The information comes from the agencies and municipalities handling your cases. The page updates itself when something happens.',
      otherLanguage: 'Svenska',
      signInTitle: 'Sign in',
      signInDemo: 'This is a demonstration with made-up people. Choose who to sign in as.',
      signInMissing: 'Sign-in is not configured for this service. Start ma-api with --ui.demo-users to try it with demo users.',
      chooseUser: 'Choose a user',
      actFor: 'Whose cases do you want to see?',
      self: 'My own',
      representative: 'As a representative of {0}',
      signInButton: 'Sign in',
      signedInAs: 'Signed in as {0}',
      actingFor: 'You are viewing the cases of {0} ({1}).',
      ownCases: 'You are viewing your own cases.',
      title: 'My cases',
      intro: 'Your cases with agencies and municipalities, in one place.',
      todo: 'To do',
      todoEmpty: 'You have nothing to do right now.',
      ongoing: 'Ongoing cases',
      ongoingEmpty: 'You have no ongoing cases.',
      finished: 'Finished cases ({0})',
      finishedEmpty: 'You have no finished cases.',
      news: 'New since you signed in',
      newsEvent: 'New event in {0}: {1}',
      caseRef: 'Case',
      agencyLabel: 'Handled by',
      updated: 'Last updated',
      deadline: 'Deadline',
      overdue: '{0} (passed)',
      statusTodo: 'You need to act',
      statusOngoing: 'Ongoing',
      statusFinished: 'Finished',
      newBadge: 'New',
      showHistory: 'Show events ({0})',
      hideHistory: 'Hide events',
      historyTitle: 'Events in the case',
      historyLoading: 'Loading events …',
      error: 'Something went wrong: {0}',
      live: 'The page updates itself.',
      liveLost: 'Automatic updates have stopped. Reload the page to see the latest.',
      signedOut: 'You are signed out.',
      count: '{0}',
    },
  };

  const state = {
    lang: localStorage.getItem('ma-sprak') === 'en' ? 'en' : 'sv',
    signIn: false,
    users: [],
    session: null,
    producers: new Map(),
    cases: [],
    latest: new Map(), // case key -> id of its latest event
    fresh: new Set(), // case keys changed since sign-in
    news: [],
    open: new Map(), // case key -> history events, for open timelines
    live: 'off',
    source: null,
  };

  const main = document.getElementById('innehall');
  const announcer = document.getElementById('meddelanden');

  function t(key, ...args) {
    const text = TEXT[state.lang][key] ?? TEXT.sv[key] ?? key;
    return text.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ''));
  }

  // Builds an element; strings become text nodes, so no server text is
  // ever parsed as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === 'class') node.className = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Replaces node's children, leaving out the null of an absent part.
  function show(node, ...children) {
    node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  }

  async function api(path, options = {}) {
    const init = { credentials: 'same-origin', headers: {}, ...options };
    if (init.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(init.body);
    }
    const response = await fetch('api/' + path, init);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.detail || body.message || String(response.status));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // ---- formatting --------------------------------------------------------

  function locale() {
    return state.lang === 'sv' ? 'sv-SE' : 'en-GB';
  }

  function formatTime(text) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return text;
    return new Intl.DateTimeFormat(locale(), {
      dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Stockholm',
    }).format(date);
  }

  function formatDate(text) {
    const date = new Date(text + 'T00:00:00Z');
    if (Number.isNaN(date.getTime())) return text;
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'long', timeZone: 'UTC' }).format(date);
  }

  function formatIdentity(number) {
    return number.length === 12 ? number.slice(0, 8) + '-' + number.slice(8) : number;
  }

  function caseKey(c) {
    return [c.producent, c.arende?.typ, c.arende?.identifierare].join('|');
  }

  function producerName(orgnr) {
    return state.producers.get(orgnr) || orgnr;
  }

  function announce(text) {
    announcer.append(el('p', {}, text));
    while (announcer.childNodes.length > 5) announcer.firstChild.remove();
  }

  function setStaticTexts() {
    document.documentElement.lang = state.lang;
    document.title = t('service');
    for (const node of document.querySelectorAll('[data-text]')) node.textContent = t(node.dataset.text);
    for (const node of document.querySelectorAll('[data-label]')) node.setAttribute('aria-label', t(node.dataset.label));
    const toggle = document.getElementById('sprak');
    toggle.textContent = t('otherLanguage');
    toggle.lang = state.lang === 'sv' ? 'en' : 'sv';
    const who = document.getElementById('inloggad');
    who.hidden = !state.session;
    who.textContent = state.session ? t('signedInAs', state.session.namn) : '';
    document.getElementById('logga-ut').hidden = !state.session;
  }

  // ---- sign-in -----------------------------------------------------------

  function renderSignIn(message) {
    const form = el('form', { class: 'panel', 'aria-labelledby': 'rubrik' });
    const children = [
      el('h1', { id: 'rubrik', tabindex: '-1' }, t('signInTitle')),
      message ? el('p', { class: 'notice', role: 'status' }, message) : null,
    ];
    if (!state.signIn) {
      show(main, ...children, el('p', {}, t('signInMissing')));
      return;
    }
    const orgs = el('div', { id: 'foretrad' });
    const showOrgs = (user) => {
      if (!user || user.foretag.length === 0) { orgs.replaceChildren(); return; }
      orgs.replaceChildren(el('fieldset', {},
        el('legend', {}, t('actFor')),
        el('div', { class: 'choice' },
          el('input', { type: 'radio', name: 'foretag', id: 'foretag-self', value: '', checked: true }),
          el('label', { for: 'foretag-self' }, t('self'))),
        user.foretag.map((org, i) => el('div', { class: 'choice' },
          el('input', { type: 'radio', name: 'foretag', id: `foretag-${i}`, value: String(i) }),
          el('label', { for: `foretag-${i}` }, t('representative', org.namn))))));
    };
    const users = el('fieldset', {}, el('legend', {}, t('chooseUser')),
      state.users.map((user, i) => el('div', { class: 'choice' },
        el('input', {
          type: 'radio', name: 'anvandare', id: `anvandare-${user.id}`, value: user.id,
          checked: i === 0, onchange: () => showOrgs(user),
        }),
        el('label', { for: `anvandare-${user.id}` },
          el('span', { class: 'choice-title' }, user.namn),
          user.beskrivning ? el('span', { class: 'choice-hint' }, user.beskrivning) : null))));
    showOrgs(state.users[0]);
    form.append(users, orgs, el('button', { type: 'submit', class: 'button' }, t('signInButton')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const foretag = data.get('foretag');
      try {
        const body = await api('session', {
          method: 'POST',
          body: { anvandare: data.get('anvandare'), foretag: foretag ? Number(foretag) : null },
        });
        state.session = body.session;
        await startOverview();
      } catch (error) {
        renderSignIn(t('error', error.message));
      }
    });
    show(main, ...children, el('p', {}, t('signInDemo')), form);
  }

  // ---- the overview --------------------------------------------------------

  function statusTag(c) {
    if (c.klart) return el('span', { class: 'tag tag-done' }, t('statusFinished'));
    if (c.kundenHarBollen) return el('span', { class: 'tag tag-todo' }, t('statusTodo'));
    return el('span', { class: 'tag tag-ongoing' }, t('statusOngoing'));
  }

  function deadlineText(c) {
    const formatted = formatDate(c.nastaDeadline);
    const today = new Date().toISOString().slice(0, 10);
    return c.nastaDeadline < today ? t('overdue', formatted) : formatted;
  }

  function renderHistory(key, container) {
    const events = state.open.get(key);
    if (!events) {
      container.replaceChildren(el('p', {}, t('historyLoading')));
      return;
    }
    container.replaceChildren(
      el('h4', { class: 'visually-hidden' }, t('historyTitle')),
      el('ol', { class: 'timeline' }, events.map((e) => el('li', {},
        el('p', { class: 'timeline-time' }, el('time', { datetime: e.tidpunkt }, formatTime(e.tidpunkt))),
        el('p', { class: 'timeline-title' }, e.rubrik),
        e.beskrivning ? el('p', { class: 'timeline-text' }, e.beskrivning) : null))));
  }

  async function loadHistory(c) {
    const key = caseKey(c);
    const body = await api('historik', { method: 'POST', body: { arende: c.arende } });
    // The same case reference may exist at another producer.
    state.open.set(key, (body.kundhandelser || []).filter((e) => e.producentOrganisationsnummer === c.producent));
  }

  function renderCase(c, index, section) {
    const key = caseKey(c);
    const id = `${section}-${index}`;
    const historyId = `${id}-historik`;
    const isOpen = state.open.has(key);
    const history = el('div', { id: historyId, class: 'history', hidden: !isOpen });
    if (isOpen) renderHistory(key, history);
    const toggle = el('button', {
      type: 'button', class: 'link-button', 'aria-expanded': String(isOpen), 'aria-controls': historyId,
    }, isOpen ? t('hideHistory') : t('showHistory', c.antalKundhandelser));
    toggle.addEventListener('click', async () => {
      if (state.open.has(key)) {
        state.open.delete(key);
        history.hidden = true;
        toggle.setAttribute('aria-expanded', 'false');
        toggle.textContent = t('showHistory', c.antalKundhandelser);
        return;
      }
      state.open.set(key, null);
      history.hidden = false;
      toggle.setAttribute('aria-expanded', 'true');
      toggle.textContent = t('hideHistory');
      renderHistory(key, history);
      try {
        await loadHistory(c);
        renderHistory(key, history);
      } catch (error) {
        history.replaceChildren(el('p', { class: 'notice' }, t('error', error.message)));
      }
    });
    const fresh = state.fresh.has(key);
    const todo = c.kundenHarBollen && !c.klart;
    return el('li', {}, el('article', {
      class: `case${todo ? ' case-todo' : ''}${fresh ? ' case-new' : ''}`, 'aria-labelledby': `${id}-rubrik`,
    },
    el('div', { class: 'case-head' },
      el('h3', { id: `${id}-rubrik` }, c.senasteKundhandelse?.rubrik ?? ''),
      el('div', { class: 'tags' }, fresh ? el('span', { class: 'tag tag-new' }, t('newBadge')) : null, statusTag(c))),
    el('dl', { class: 'facts' },
      el('div', {}, el('dt', {}, t('agencyLabel')), el('dd', {}, producerName(c.producent))),
      el('div', {}, el('dt', {}, t('caseRef')), el('dd', {}, c.arende?.identifierare ?? '')),
      el('div', {}, el('dt', {}, t('updated')), el('dd', {}, formatTime(c.uppdaterad))),
      todo && c.nastaDeadline ? el('div', { class: 'deadline' }, el('dt', {}, t('deadline')),
        el('dd', {}, el('strong', {}, deadlineText(c)))) : null),
    toggle, history));
  }

  function renderSection(id, title, cases, empty, extraClass) {
    return el('section', { class: `cases ${extraClass || ''}`, 'aria-labelledby': id },
      el('h2', { id }, title, ' ', el('span', { class: 'count' }, t('count', cases.length))),
      cases.length ? el('ul', { class: 'case-list' }, cases.map((c, i) => renderCase(c, i, id))) : el('p', {}, empty));
  }

  function renderOverview() {
    const kund = state.session.kund;
    const acting = kund.typ === 'Organisationsnummer'
      ? t('actingFor', kund.namn, formatIdentity(kund.identitet))
      : t('ownCases');
    const todo = state.cases.filter((c) => c.kundenHarBollen && !c.klart)
      .sort((a, b) => (a.nastaDeadline || '9999').localeCompare(b.nastaDeadline || '9999'));
    const ongoing = state.cases.filter((c) => !c.kundenHarBollen && !c.klart);
    const finished = state.cases.filter((c) => c.klart);
    const heading = main.querySelector('h1');
    const hadFocus = heading && document.activeElement === heading;
    show(main,
      el('div', { class: 'intro' },
        el('h1', { id: 'rubrik', tabindex: '-1' }, t('title')),
        el('p', { class: 'lead' }, t('intro')),
        el('p', { class: 'who' }, t('signedInAs', `${state.session.namn} (${formatIdentity(state.session.identitet)})`), '. ', acting),
        el('p', { class: `live live-${state.live}`, role: 'status' }, state.live === 'lost' ? t('liveLost') : t('live'))),
      state.news.length ? el('section', { class: 'news', 'aria-labelledby': 'nytt' },
        el('h2', { id: 'nytt' }, t('news')),
        el('ul', {}, state.news.map((n) => el('li', {},
          el('time', { datetime: n.tidpunkt }, formatTime(n.tidpunkt)), ' ',
          t('newsEvent', n.arende, n.rubrik), ` (${producerName(n.producent)})`)))) : null,
      renderSection('att-gora', t('todo'), todo, t('todoEmpty'), 'cases-todo'),
      renderSection('pagaende', t('ongoing'), ongoing, t('ongoingEmpty')),
      el('details', { class: 'finished' },
        el('summary', {}, el('h2', { id: 'avslutade' }, t('finished', finished.length))),
        finished.length ? el('ul', { class: 'case-list' }, finished.map((c, i) => renderCase(c, i, 'avslutade'))) : el('p', {}, t('finishedEmpty'))));
    if (hadFocus) main.querySelector('h1').focus();
  }

  // Reads the overview; after the first read, a case whose latest event
  // changed becomes news and is announced.
  async function refresh(first) {
    const body = await api('arenden');
    const cases = body.arenden || [];
    for (const c of cases) {
      const key = caseKey(c);
      const latest = c.senasteKundhandelse?.kundhandelseId;
      if (!first && state.latest.get(key) !== latest) {
        state.fresh.add(key);
        const item = {
          arende: c.arende?.identifierare ?? '', rubrik: c.senasteKundhandelse?.rubrik ?? '',
          producent: c.producent, tidpunkt: c.uppdaterad,
        };
        state.news.unshift(item);
        announce(t('newsEvent', item.arende, item.rubrik));
      }
      state.latest.set(key, latest);
    }
    state.cases = cases;
    await Promise.all(cases.filter((c) => state.open.has(caseKey(c))).map((c) => loadHistory(c).catch(() => {})));
    renderOverview();
  }

  function startLive() {
    if (state.source) state.source.close();
    const source = new EventSource('api/handelser');
    state.source = source;
    source.addEventListener('open', () => {
      const wasLost = state.live === 'lost';
      state.live = 'on';
      // Events may have been missed while the stream was down.
      if (wasLost) refresh(false).catch(() => {});
    });
    source.addEventListener('andring', () => refresh(false).catch(() => {}));
    source.addEventListener('utloggad', () => { source.close(); signedOut(); });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        state.live = 'lost';
        checkSession();
      } else {
        state.live = 'lost';
      }
      if (state.session) renderOverview();
    });
  }

  async function startOverview() {
    setStaticTexts();
    show(main, el('p', {}, t('loading')));
    try {
      const katalog = await api('katalog');
      for (const p of katalog.producenter || []) state.producers.set(p.organisationsnummer, p.namn);
      await refresh(true);
      main.querySelector('h1').focus();
      startLive();
    } catch (error) {
      if (error.status === 401) { signedOut(); return; }
      show(main, el('h1', { tabindex: '-1' }, t('title')), el('p', { class: 'notice' }, t('error', error.message)));
    }
  }

  function signedOut(message) {
    if (state.source) state.source.close();
    state.source = null;
    state.session = null;
    state.cases = [];
    state.latest.clear();
    state.fresh.clear();
    state.open.clear();
    state.news = [];
    setStaticTexts();
    renderSignIn(message || t('signedOut'));
  }

  async function checkSession() {
    const body = await api('session');
    state.signIn = body.inloggning;
    state.users = body.anvandare || [];
    if (!body.session && state.session) signedOut();
    return body;
  }

  document.getElementById('sprak').addEventListener('click', () => {
    state.lang = state.lang === 'sv' ? 'en' : 'sv';
    localStorage.setItem('ma-sprak', state.lang);
    setStaticTexts();
    if (state.session) renderOverview();
    else renderSignIn();
  });

  document.getElementById('logga-ut').addEventListener('click', async () => {
    await api('session', { method: 'DELETE' }).catch(() => {});
    signedOut();
  });

  (async () => {
    setStaticTexts();
    try {
      const body = await checkSession();
      state.session = body.session || null;
      if (state.session) await startOverview();
      else { setStaticTexts(); renderSignIn(); }
    } catch (error) {
      show(main, el('p', { class: 'notice' }, t('error', error.message)));
    }
  })();
})();
