// Tokenises .flow text with the extension's TextMate grammar, through the same engine VS Code uses
// (vscode-textmate + vscode-oniguruma), and checks the scopes that themes colour.
//
// Three kinds of check:
// - the repository's own .flow text (pipelines/*.flow and README.md's ```flow blocks) tokenises
//   without the grammar stopping early or leaving a region open, and no keyword in it is left
//   with only the root scope;
// - every keyword and connection kind of grammar/flow.pest gets a keyword / connection scope, so
//   a keyword added to the pest grammar without the TextMate grammar fails here;
// - exact scopes on hand-written samples.
// Embedded SQL is checked without depending on a real SQL grammar: once with no `source.sql` at
// all (as when none is installed), and once with a small stand-in that shows the include is
// reached and that a SQL `--` comment cannot swallow the closing quote.

'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const EXTENSION = path.join(__dirname, '..');
const REPO = path.join(EXTENSION, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION, 'package.json'), 'utf8'));
const grammarEntry = manifest.contributes.grammars.find((g) => g.scopeName === 'source.flow');
const GRAMMAR_PATH = path.join(EXTENSION, grammarEntry.path);

// Stands in for VS Code's SQL grammar: enough to see that `source.sql` is included. Its `--`
// comment rule is VS Code's, which runs to the end of the line.
const STUB_SQL = {
  scopeName: 'source.sql',
  patterns: [
    {
      begin: '(^[ \\t]+)?(?=--)',
      end: '(?!\\G)',
      patterns: [{ begin: '--', end: '\\n', name: 'comment.line.double-dash.sql' }],
    },
    { match: '(?i)\\b(select|from|where)\\b', name: 'keyword.other.DML.sql' },
    { match: '\\*', name: 'keyword.operator.star.sql' },
  ],
};

let onigLoaded = null;
function onigLib() {
  if (!onigLoaded) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
    onigLoaded = oniguruma.loadWASM(wasm).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }));
  }
  return onigLoaded;
}

/** The Flow grammar, with the stand-in SQL grammar when `withSql`, else with no SQL grammar. */
async function loadFlowGrammar({ withSql = false } = {}) {
  const registry = new vsctm.Registry({
    onigLib: onigLib(),
    loadGrammar: async (scopeName) => {
      if (scopeName === 'source.flow') {
        return vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH);
      }
      if (scopeName === 'source.sql' && withSql) {
        return vsctm.parseRawGrammar(JSON.stringify(STUB_SQL), 'stub-sql.json');
      }
      return null;
    },
  });
  const grammar = await registry.loadGrammar('source.flow');
  assert.ok(grammar, `the grammar at ${GRAMMAR_PATH} did not load`);
  return grammar;
}

/**
 * Tokenises `text` line by line; returns one array per line of { text, start, scopes } (scopes
 * without the root `source.flow`) and the rule stack's depth after the last line (1 = every
 * region closed).
 */
function tokenize(grammar, text) {
  let state = vsctm.INITIAL;
  const lines = text.split('\n').map((line, index) => {
    const result = grammar.tokenizeLine(line, state);
    assert.equal(result.stoppedEarly, false, `tokenising stopped early on line ${index + 1}: ${line}`);
    state = result.ruleStack;
    return result.tokens.map((t) => {
      assert.equal(t.scopes[0], 'source.flow');
      return { text: line.slice(t.startIndex, t.endIndex), start: t.startIndex, scopes: t.scopes.slice(1) };
    });
  });
  return { lines, depth: state.depth };
}

/** The token that covers column `col` of a tokenised line. */
function tokenAt(tokens, col) {
  return tokens.find((t) => t.start <= col && col < t.start + t.text.length);
}

// ------------------------------------------------------------------ the pest grammar's words

const PEST = fs.readFileSync(path.join(REPO, 'grammar', 'flow.pest'), 'utf8');

/** Every `kw_NAME = @{ ^"word" ... }` rule: the word and whether it is case-insensitive (`^`). */
const PEST_KEYWORDS = [...PEST.matchAll(/^kw_\w+\s*=\s*@\{\s*(\^?)"([a-z]+)"/gm)].map((m) => ({
  word: m[2],
  caseInsensitive: m[1] === '^',
}));

/** The alternatives of `connection_kind`. */
const PEST_CONNECTION_KINDS = [...PEST.match(/^connection_kind\s*=.*$/m)[0].matchAll(/"([a-z]+)"/g)].map(
  (m) => m[1],
);

// Words that pest only accepts after `conn.`: `conn.table(...)`, `.query`, `.tables`, `.schema`.
const MEMBER_KEYWORDS = new Set(['query', 'tables', 'schema']);
const KEYWORD_WORDS = new Set(PEST_KEYWORDS.map((k) => k.word));

test('the pest grammar yields the keyword list this test relies on', () => {
  assert.ok(PEST_KEYWORDS.length >= 50, `only ${PEST_KEYWORDS.length} kw_* rules found in flow.pest`);
  for (const w of [
    'let',
    'pipeline',
    'source',
    'sink',
    'transform',
    'parallelism',
    'timeout',
    'mode',
    'on',
    'sql',
  ]) {
    assert.ok(KEYWORD_WORDS.has(w), `kw_${w} not found in flow.pest`);
  }
  assert.deepEqual(PEST_CONNECTION_KINDS, [
    'postgresql',
    'postgres',
    'mysql',
    'sqlite',
    'csv',
    'parquet',
    'generate',
    'profile',
  ]);
});

test('every kw_* word of flow.pest gets a keyword scope, in each spelling pest accepts', async () => {
  const grammar = await loadFlowGrammar();
  const expectedKind = (word) => (word === 'null' ? 'constant.language.null.flow' : 'keyword.');
  for (const { word, caseInsensitive } of PEST_KEYWORDS) {
    const spellings = caseInsensitive
      ? [word, word.toUpperCase(), word[0].toUpperCase() + word.slice(1)]
      : [word];
    for (const w of spellings) {
      const line = MEMBER_KEYWORDS.has(w) ? `conn.${w}("x")` : `x ${w} y`;
      const col = line.indexOf(w, MEMBER_KEYWORDS.has(w) ? 5 : 2);
      const token = tokenAt(tokenize(grammar, line).lines[0], col);
      assert.equal(token.text, w, `\`${w}\` is not one token in: ${line}`);
      assert.ok(
        token.scopes.some((s) => s.startsWith(expectedKind(word))),
        `\`${w}\` in \`${line}\` has scopes [${token.scopes}], expected ${expectedKind(word)}*`,
      );
    }
  }
});

test('every connection kind of flow.pest is support.function.connection.flow', async () => {
  const grammar = await loadFlowGrammar();
  for (const kind of PEST_CONNECTION_KINDS) {
    const tokens = tokenize(grammar, `let c = ${kind}("x")`).lines[0];
    assert.deepEqual(tokenAt(tokens, 8), {
      text: kind,
      start: 8,
      scopes: ['support.function.connection.flow'],
    });
  }
});

// ------------------------------------------------------------------ the repository's .flow text

/** pipelines/*.flow and README.md's ```flow blocks, as { name, text }. */
function repositoryFlowTexts() {
  const texts = fs
    .readdirSync(path.join(REPO, 'pipelines'))
    .filter((f) => f.endsWith('.flow'))
    .sort()
    .map((f) => ({ name: `pipelines/${f}`, text: fs.readFileSync(path.join(REPO, 'pipelines', f), 'utf8') }));
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8').split('\n');
  for (let i = 0; i < readme.length; i++) {
    if (readme[i].trim() !== '```flow') continue;
    const end = readme.indexOf('```', i + 1);
    assert.ok(end > i, `README.md: the \`\`\`flow block at line ${i + 1} is not closed`);
    texts.push({ name: `README.md:${i + 2}`, text: readme.slice(i + 1, end).join('\n') });
    i = end;
  }
  return texts;
}

// Scopes under which a keyword-like word is text or a name, not a keyword.
const NOT_CODE = /^(comment|string|meta\.embedded|variable|entity\.name|constant\.language)\./;

test('pipelines/*.flow and the README flow blocks: no grammar failure, no unscoped keyword', async () => {
  const grammar = await loadFlowGrammar();
  const texts = repositoryFlowTexts();
  assert.ok(texts.filter((t) => t.name.startsWith('pipelines/')).length >= 3, 'pipelines/*.flow not found');
  assert.ok(texts.filter((t) => t.name.startsWith('README')).length >= 3, 'README.md flow blocks not found');
  let keywordsSeen = 0;
  for (const { name, text } of texts) {
    const { lines, depth } = tokenize(grammar, text);
    assert.equal(depth, 1, `${name}: a string, SQL or parenthesised region is still open at the end`);
    text.split('\n').forEach((line, i) => {
      const where = `${name}, line ${i + 1}: ${line.trim()}`;
      // A statement or option keyword at line start, and a step keyword after `|`, are keywords.
      const lead = line.match(/^\s*([A-Za-z]+)\b/);
      if (
        lead &&
        [
          'let',
          'pipeline',
          'source',
          'sink',
          'transform',
          'parallelism',
          'timeout',
          'table',
          'mode',
        ].includes(lead[1].toLowerCase())
      ) {
        const token = tokenAt(lines[i], lead.index + lead[0].length - lead[1].length);
        assert.ok(
          token.scopes.some((s) => s.startsWith('keyword.')),
          `${where}: \`${lead[1]}\` has scopes [${token.scopes}]`,
        );
      }
      for (const m of line.matchAll(/\|\s*(filter|derive|select|drop|rename|cast|sql)\b/gi)) {
        const token = tokenAt(lines[i], m.index + m[0].length - m[1].length);
        if (token.scopes.some((s) => NOT_CODE.test(s))) continue; // a `|` inside a string or comment
        assert.ok(
          token.scopes.includes('keyword.control.flow'),
          `${where}: step \`${m[1]}\` has scopes [${token.scopes}]`,
        );
      }
      // Any other kw_* word in code is a keyword too, never left with the root scope alone.
      for (const m of line.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) {
        if (!KEYWORD_WORDS.has(m[0].toLowerCase())) continue;
        const token = tokenAt(lines[i], m.index);
        if (token.scopes.some((s) => NOT_CODE.test(s))) continue;
        keywordsSeen++;
        assert.equal(
          token.text.trim(),
          m[0],
          `${where}: \`${m[0]}\` shares a token: ${JSON.stringify(token)}`,
        );
        assert.ok(
          token.scopes.some((s) => s.startsWith('keyword.')),
          `${where}: \`${m[0]}\` has scopes [${token.scopes}]`,
        );
      }
    });
  }
  assert.ok(keywordsSeen > 50, `only ${keywordsSeen} keywords checked`);
});

// ------------------------------------------------------------------ exact scopes on a sample

const SAMPLE = [
  /* 0 */ 'LET src = Postgres("${PG_URL}")  # a comment',
  /* 1 */ 'let dst = sqlite("${OUT:-out}/a#b.db")',
  /* 2 */ 'PIPELINE copy {',
  /* 3 */ '  Parallelism 4',
  /* 4 */ '  timeout 1h30m',
  /* 5 */ '  source rows = src.query("SELECT * FROM t WHERE id > ${MIN:-0}") { batch 5000; timeout 30s }',
  /* 6 */ '  transform t = rows',
  /* 7 */ "    | filter total >= 1.5e3 and note != '#1' or id <> -2",
  /* 8 */ "    | derive c = a * 100 / b % 7 + 1 - 2 || 'it''s'",
  /* 9 */ '    | sql "select * from input"',
  /* 10 */ '  sink t -> dst.table("t") { mode upsert on (id) }',
  /* 11 */ '}',
].join('\n');

/** Asserts the scopes of the token spelled `text` (its `nth` occurrence on the line, from 1). */
function expectToken(lines, lineNo, text, scopes, nth = 1) {
  const tokens = lines[lineNo];
  const matches = tokens.filter((t) => t.text === text);
  assert.ok(
    matches.length >= nth,
    `line ${lineNo}: no token ${JSON.stringify(text)} (#${nth}) among ${JSON.stringify(tokens.map((t) => t.text))}`,
  );
  assert.deepEqual(
    matches[nth - 1].scopes,
    scopes,
    `line ${lineNo}: scopes of ${JSON.stringify(text)} (#${nth})`,
  );
}

const STR = 'string.quoted.double.flow';
const SQ = 'string.quoted.single.flow';
const VAR = 'variable.other.interpolation.flow';
const SQL = 'meta.embedded.sql';

test('a sample gets exact scopes: keywords, strings, variables, numbers, comments, operators', async () => {
  const { lines, depth } = tokenize(await loadFlowGrammar(), SAMPLE);
  assert.equal(depth, 1);
  // Keywords, upper-case too; names declared after them.
  expectToken(lines, 0, 'LET', ['keyword.control.flow']);
  expectToken(lines, 0, 'src', ['variable.other.constant.connection.flow']);
  expectToken(lines, 0, '=', ['keyword.operator.assignment.flow']);
  expectToken(lines, 2, 'PIPELINE', ['keyword.control.flow']);
  expectToken(lines, 2, 'copy', ['entity.name.type.pipeline.flow']);
  expectToken(lines, 3, 'Parallelism', ['keyword.other.flow']);
  expectToken(lines, 4, 'timeout', ['keyword.other.flow']);
  expectToken(lines, 5, 'source', ['keyword.control.flow']);
  expectToken(lines, 5, 'rows', ['variable.other.definition.stage.flow']);
  expectToken(lines, 5, 'batch', ['keyword.other.flow']);
  expectToken(lines, 6, 'transform', ['keyword.control.flow']);
  expectToken(lines, 7, 'filter', ['keyword.control.flow']);
  expectToken(lines, 7, 'and', ['keyword.operator.logical.flow']);
  expectToken(lines, 8, 'derive', ['keyword.control.flow']);
  expectToken(lines, 10, 'sink', ['keyword.control.flow']);
  expectToken(lines, 10, 'mode', ['keyword.other.flow']);
  expectToken(lines, 10, 'upsert', ['keyword.other.flow']);
  expectToken(lines, 10, 'on', ['keyword.other.flow']);
  expectToken(lines, 10, 'table', ['keyword.other.flow']);
  // Connection kinds are case-sensitive in pest, but `Postgres(` is still a call; not a kind.
  expectToken(lines, 0, 'Postgres', ['entity.name.function.flow']);
  expectToken(lines, 1, 'sqlite', ['support.function.connection.flow']);

  // Strings with `${VAR}` and `${VAR:-default}`; `#` inside a string is text.
  expectToken(lines, 0, '"', [STR, 'punctuation.definition.string.begin.flow'], 1);
  expectToken(lines, 0, '${', [STR, VAR, 'punctuation.definition.variable.begin.flow']);
  expectToken(lines, 0, 'PG_URL', [STR, VAR]);
  expectToken(lines, 0, '}', [STR, VAR, 'punctuation.definition.variable.end.flow']);
  expectToken(lines, 0, '"', [STR, 'punctuation.definition.string.end.flow'], 2);
  expectToken(lines, 1, 'OUT', [STR, VAR]);
  expectToken(lines, 1, ':-', [STR, VAR, 'keyword.operator.default.flow']);
  expectToken(lines, 1, 'out', [STR, VAR]);
  expectToken(lines, 1, '/a#b.db', [STR]);
  expectToken(lines, 7, '#1', [SQ]);
  expectToken(lines, 8, "''", [SQ, 'constant.character.escape.flow']);

  // Comments.
  expectToken(lines, 0, '#', ['comment.line.number-sign.flow', 'punctuation.definition.comment.flow']);
  expectToken(lines, 0, ' a comment', ['comment.line.number-sign.flow']);

  // Durations and numbers.
  expectToken(lines, 4, '1h30m', ['constant.numeric.duration.flow']);
  expectToken(lines, 5, '30s', ['constant.numeric.duration.flow']);
  expectToken(lines, 3, '4', ['constant.numeric.flow']);
  expectToken(lines, 5, '5000', ['constant.numeric.flow']);
  expectToken(lines, 7, '1.5e3', ['constant.numeric.flow']);

  // Operators.
  expectToken(lines, 10, '->', ['keyword.operator.arrow.flow']);
  expectToken(lines, 7, '|', ['keyword.operator.pipe.flow']);
  expectToken(lines, 8, '||', ['keyword.operator.concat.flow']);
  expectToken(lines, 8, '=', ['keyword.operator.equals.flow']);
  expectToken(lines, 7, '>=', ['keyword.operator.comparison.flow']);
  expectToken(lines, 7, '!=', ['keyword.operator.comparison.flow']);
  expectToken(lines, 7, '<>', ['keyword.operator.comparison.flow']);
  expectToken(lines, 7, '-', ['keyword.operator.arithmetic.flow']);
  for (const op of ['*', '/', '%', '+', '-']) expectToken(lines, 8, op, ['keyword.operator.arithmetic.flow']);
});

test('`conn.query("...")` and `| sql "..."` embed SQL without a SQL grammar installed', async () => {
  const { lines } = tokenize(await loadFlowGrammar(), SAMPLE);
  expectToken(lines, 5, 'query', ['keyword.other.flow']);
  expectToken(lines, 5, '"', [STR, 'punctuation.definition.string.begin.flow'], 1);
  expectToken(lines, 5, 'SELECT * FROM t WHERE id > ', [SQL]);
  expectToken(lines, 5, 'MIN', [SQL, VAR]);
  expectToken(lines, 5, '"', [STR, 'punctuation.definition.string.end.flow'], 2);
  expectToken(lines, 5, '{', ['punctuation.section.block.begin.flow']); // the region closed
  expectToken(lines, 9, 'sql', ['keyword.control.flow']);
  expectToken(lines, 9, 'select * from input', [SQL]);
  expectToken(lines, 9, '"', [STR, 'punctuation.definition.string.end.flow'], 2);
});

test('with a SQL grammar present, the embedded region is tokenised by source.sql', async () => {
  const { lines, depth } = tokenize(await loadFlowGrammar({ withSql: true }), SAMPLE);
  assert.equal(depth, 1);
  expectToken(lines, 5, 'SELECT', [SQL, 'keyword.other.DML.sql']);
  expectToken(lines, 5, '*', [SQL, 'keyword.operator.star.sql']);
  expectToken(lines, 5, 'MIN', [SQL, VAR]);
  expectToken(lines, 9, 'select', [SQL, 'keyword.other.DML.sql']);
  expectToken(lines, 9, ' input', [SQL]);
  // Outside the strings, `*` is Flow's operator again.
  expectToken(lines, 8, '*', ['keyword.operator.arithmetic.flow']);
});

test('a SQL `--` comment ends at the closing quote, not only at the end of the line', async () => {
  const text = [
    '  source q = c.query("select a -- the key") { timeout 5m }',
    "    | sql 'select a",
    "      -- a note' | drop a",
  ].join('\n');
  for (const withSql of [false, true]) {
    const { lines, depth } = tokenize(await loadFlowGrammar({ withSql }), text);
    assert.equal(depth, 1, `a region is left open (SQL grammar: ${withSql})`);
    expectToken(lines, 0, '-- the key', [SQL, 'comment.line.double-dash.sql']);
    expectToken(lines, 0, '"', [STR, 'punctuation.definition.string.end.flow'], 2);
    expectToken(lines, 0, '5m', ['constant.numeric.duration.flow']);
    expectToken(lines, 2, '      -- a note', [SQL, 'comment.line.double-dash.sql']);
    expectToken(lines, 2, "'", [SQ, 'punctuation.definition.string.end.flow']);
    expectToken(lines, 2, 'drop', ['keyword.control.flow']);
  }
});

test('a multi-line `sql` step and `.query(` argument, single-quoted', async () => {
  const text = [
    '    | sql',
    "      'select ''a'' as x'",
    '  source q = c.query(',
    "    'select 1'",
    '  ) { timeout 5m }',
  ].join('\n');
  const { lines, depth } = tokenize(await loadFlowGrammar(), text);
  assert.equal(depth, 1);
  expectToken(lines, 0, 'sql', ['keyword.control.flow']);
  expectToken(lines, 1, "'", [SQ, 'punctuation.definition.string.begin.flow'], 1);
  expectToken(lines, 1, 'select ', [SQL]);
  expectToken(lines, 1, "''", [SQL, 'constant.character.escape.flow'], 2);
  expectToken(lines, 1, "'", [SQ, 'punctuation.definition.string.end.flow'], 2);
  expectToken(lines, 3, 'select 1', [SQL]);
  expectToken(lines, 4, ')', ['punctuation.section.parens.end.flow']);
  expectToken(lines, 4, '5m', ['constant.numeric.duration.flow']);
});

test('names spelled like keywords, casts, write modes and bad durations', async () => {
  const text = [
    '  source s = c.tables("public.*", exclude: ["audit_*"]) { table `Order Items` { partition by id into 4 } }',
    '    | derive mode = max(a, b), d = cast(x as decimal(12, 2))',
    '    | cast a as bigint, b as text',
    '    | rename a as b',
    '  sink s -> d.schema("x") { mode Replace; on error reject to d.table("r"); timeout 10min }',
  ].join('\n');
  const { lines, depth } = tokenize(await loadFlowGrammar(), text);
  assert.equal(depth, 1);
  expectToken(lines, 0, 'tables', ['keyword.other.flow']);
  expectToken(lines, 0, 'exclude', ['variable.parameter.flow']);
  expectToken(lines, 0, ':', ['punctuation.separator.key-value.flow']);
  expectToken(lines, 0, '`Order Items`', ['variable.other.quoted.flow']);
  expectToken(lines, 0, 'partition', ['keyword.other.flow']);
  // `mode` before `=` is a column being derived; `max(` a function call.
  expectToken(lines, 1, 'mode', []);
  expectToken(lines, 1, 'max', ['entity.name.function.flow']);
  expectToken(lines, 1, 'cast', ['keyword.control.flow']);
  expectToken(lines, 1, 'decimal', ['storage.type.flow']);
  expectToken(lines, 1, ')', ['punctuation.section.parens.end.flow'], 3);
  expectToken(lines, 2, 'bigint', ['storage.type.flow']);
  expectToken(lines, 2, 'text', ['storage.type.flow']);
  expectToken(lines, 3, 'as', ['keyword.other.flow']);
  expectToken(lines, 4, 'Replace', ['constant.language.write-mode.flow']);
  expectToken(lines, 4, 'reject', ['keyword.other.flow']);
  expectToken(lines, 4, '10min', ['invalid.illegal.duration.flow']);
});

test('the manifest and language configuration agree with the grammar', () => {
  const grammar = JSON.parse(fs.readFileSync(GRAMMAR_PATH, 'utf8'));
  assert.equal(grammar.scopeName, 'source.flow');
  const language = manifest.contributes.languages.find((l) => l.id === 'flow');
  assert.deepEqual(language.extensions, ['.flow']);
  assert.equal(grammarEntry.language, 'flow');
  const config = JSON.parse(fs.readFileSync(path.join(EXTENSION, language.configuration), 'utf8'));
  assert.equal(config.comments.lineComment, '#');
  assert.deepEqual(config.brackets, [
    ['{', '}'],
    ['(', ')'],
    ['[', ']'],
  ]);
  for (const q of ['"', "'"])
    assert.ok(
      config.autoClosingPairs.some((p) => p.open === q && p.close === q),
      `no auto-closing ${q}`,
    );
});
