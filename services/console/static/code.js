// The code tab: the files of the latest version, and an editor whose save makes a new version
// (PUT /v1/functions/{name}/code, refused if someone deployed in between).

import {h, replace, notice, bytes} from './dom.js';
import {get, request, fn} from './api.js';

// mainFile picks the file the handler names (main.handler → main.py), else the first.
function mainFile(files, handler) {
  const base = (handler || '').split(/[.:]/)[0].split('/').pop();
  return files.find(f => f.path.replace(/\.[^.]+$/, '').split('/').pop() === base) || files[0];
}

// codeTab shows the latest version's files, editable, or those of an older version (pinned, a
// number), read-only.
export function codeTab(body, name, life, reloadHead, pinned = 0) {
  const list = h('div', {class: 'file-list', id: 'files'});
  const info = h('span', {class: 'muted small'});
  const status = h('div', {class: 'editor-status', id: 'editor-status'});
  const gutter = h('pre', {class: 'gutter', 'aria-hidden': 'true'});
  const editor = h('textarea', {id: 'editor', class: 'editor', spellcheck: 'false', wrap: 'off', autocomplete: 'off', 'aria-label': 'file content'});
  const save = h('button', {type: 'button', id: 'save', class: 'primary', disabled: true}, 'Save as new version');
  const revert = h('button', {type: 'button', disabled: true}, 'Revert');
  body.append(
    h('div', {class: 'toolbar'}, h('h2', null, 'Code'), info, h('span', {class: 'spacer'}), revert, save),
    status,
    h('div', {class: 'code-layout'}, list, h('div', {class: 'editor-wrap'}, gutter, editor)));

  let state = {version: 0, latest: 0, file: '', original: '', files: [], readonly: true};
  const old = () => state.version !== state.latest;

  const lines = () => {
    const n = editor.value.split('\n').length;
    gutter.textContent = Array.from({length: n}, (_, i) => i + 1).join('\n');
    gutter.scrollTop = editor.scrollTop;
  };
  const dirty = () => {
    const changed = !state.readonly && editor.value !== state.original;
    save.disabled = !changed;
    revert.disabled = !changed;
    return changed;
  };
  editor.addEventListener('input', () => {
    lines();
    dirty();
  });
  editor.addEventListener('scroll', () => {
    gutter.scrollTop = editor.scrollTop;
  });
  editor.addEventListener('keydown', ev => {
    if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      const indent = /\.(js|mjs|json|ya?ml|ts)$/.test(state.file) ? '  ' : '    ';
      editor.setRangeText(indent, editor.selectionStart, editor.selectionEnd, 'end');
      lines();
      dirty();
    } else if (ev.key === 's' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      if (dirty()) save.click();
    }
  });
  revert.addEventListener('click', () => {
    editor.value = state.original;
    lines();
    dirty();
  });

  const drawList = () => replace(list, state.files.map(f => h('button', {
    type: 'button', class: 'file' + (f.path === state.file ? ' active' : ''), 'data-file': f.path, title: f.path,
    onclick: () => {
      if (f.path === state.file) return;
      if (dirty() && !confirm('Discard your changes to ' + state.file + '?')) return;
      openFile(f.path).catch(fail);
    },
  }, h('span', {class: 'mono'}, f.path), h('span', {class: 'muted small'}, bytes(f.size)))));

  const fail = e => {
    if (e.name !== 'AbortError') replace(status, notice('error', e.message));
  };

  const openFile = async path => {
    const f = await get(fn(name, '/code?version=' + state.version + '&file=' + encodeURIComponent(path)), {signal: life.signal});
    state.file = path;
    const binary = f.encoding === 'base64';
    state.readonly = binary || old();
    state.original = binary ? '' : f.content;
    editor.value = state.original;
    editor.readOnly = state.readonly;
    replace(status,
      binary ? notice('info', path + ' is not text; it cannot be edited here.') : null,
      old() ? notice('info', 'Version ' + state.version + ' is read-only: edits make a new version from the latest, ',
        h('a', {href: '#/functions/' + encodeURIComponent(name) + '/code'}, 'version ' + state.latest), '.') : null);
    info.textContent = path + ' · version ' + state.version + (old() ? ' (read-only)' : '');
    drawList();
    lines();
    dirty();
  };

  const load = async (keepFile) => {
    const [code, detail] = await Promise.all([get(fn(name, '/code' + (pinned ? '?version=' + pinned : '')), {signal: life.signal}), get(fn(name), {signal: life.signal})]);
    state.version = code.version;
    state.latest = detail.function.latest;
    state.files = code.files;
    if (!code.files.length) {
      replace(status, notice('info', 'This version has no files.'));
      drawList();
      return;
    }
    const keep = keepFile && code.files.find(f => f.path === keepFile);
    await openFile((keep || mainFile(code.files, detail.version.config.handler)).path);
  };

  save.addEventListener('click', async () => {
    save.disabled = true;
    replace(status, notice('info', 'Saving…'));
    try {
      const res = await request(fn(name, '/code'), {method: 'PUT', body: {file: state.file, content: editor.value, version: state.version}, signal: life.signal});
      const v = await res.json();
      const file = state.file;
      pinned = 0;
      await load(file);
      replace(status, notice('ok', 'Saved ' + file + ' as version ' + v.version + '.'));
      reloadHead();
    } catch (e) {
      dirty();
      if (e.status === 409) replace(status, notice('error', 'Not saved: ', e.message, ' Copy your change, then reload the latest version.'));
      else fail(e);
    }
  });
  load().catch(fail);
}
