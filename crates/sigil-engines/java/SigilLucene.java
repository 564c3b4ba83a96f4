// Test-support server for sigil-engines: runs Lucene classic QueryParser queries
// over an in-memory index of (already flattened) JSON events, with
// Elasticsearch `keyword`-field semantics. See src/lucene.rs for the contract.
//
// Line protocol (UTF-8; in every field `\` `\n` `\r` `\t` are escaped as
// `\\` `\n` `\r` `\t`):
//   request lines (Rust -> Java), accumulated until RUN:
//     D                      start a new event (events are numbered from 0)
//     S\t<path>\t<value>     string value
//     N\t<path>\t<value>     number value (JSON text)
//     B\t<path>\t<value>     boolean value (true/false)
//     E\t<path>              path exists (non-null leaf at or below path)
//     Q\t<query>             a query to run
//     RUN\t<exact|lowercase> index the events, run the queries, reset
//   response (Java -> Rust) to RUN: one line per query, then END
//     OK\t<space separated event numbers>\t<Lucene Query.toString()>
//     ERR\t<message>
//   or, when the batch itself fails: FATAL\t<message>
// On start-up the server prints `READY\t<lucene version>`.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.FieldType;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexOptions;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.PrefixQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.RegexpQuery;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.SimpleCollector;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.WildcardQuery;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.Version;

public final class SigilLucene {
  /** Catch-all field (default field): every scalar value of the event. */
  static final String ALL = "\u0001all";
  /** Elasticsearch's `_exists_` pseudo field: one term per present path. */
  static final String EXISTS = "_exists_";
  /** Maps Lucene doc ids back to event numbers. */
  static final String IDX = "\u0001idx";

  static final FieldType KEYWORD = new FieldType();

  static {
    // "tokenized" so that the index analyzer (KeywordTokenizer [+ LowerCaseFilter]) runs:
    // the whole value becomes exactly one term, like an ES keyword field.
    KEYWORD.setTokenized(true);
    KEYWORD.setIndexOptions(IndexOptions.DOCS);
    KEYWORD.setOmitNorms(true);
    KEYWORD.setStored(false);
    KEYWORD.freeze();
  }

  /** KeywordTokenizer + LowerCaseFilter; normalize() lower-cases query terms too (ES normalizer). */
  static final class LowercaseKeywordAnalyzer extends Analyzer {
    @Override
    protected TokenStreamComponents createComponents(String fieldName) {
      Tokenizer t = new KeywordTokenizer();
      return new TokenStreamComponents(t, new LowerCaseFilter(t));
    }

    @Override
    protected TokenStream normalize(String fieldName, TokenStream in) {
      return new LowerCaseFilter(in);
    }
  }

  static Analyzer analyzer(String mode) {
    Analyzer values;
    if ("exact".equals(mode)) {
      values = new KeywordAnalyzer();
    } else if ("lowercase".equals(mode)) {
      values = new LowercaseKeywordAnalyzer();
    } else {
      throw new IllegalArgumentException("unknown index mode: " + mode);
    }
    Map<String, Analyzer> perField = new HashMap<>();
    perField.put(EXISTS, new KeywordAnalyzer()); // field names are case-sensitive
    return new PerFieldAnalyzerWrapper(values, perField);
  }

  static Double parseNumber(String s) {
    if (s == null) {
      return null;
    }
    String t = s.trim();
    if (t.isEmpty()) {
      return null;
    }
    char c0 = t.charAt(0);
    if (!(Character.isDigit(c0) || c0 == '-' || c0 == '+' || c0 == '.')) {
      return null; // reject NaN, Infinity, hex floats
    }
    try {
      double d = Double.parseDouble(t);
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        return null;
      }
      return d;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /**
   * Classic QueryParser with the Elasticsearch query_string additions we need:
   * `_exists_:path`, `field:*` as an exists query, `*:` as all fields, numeric
   * ranges and terms on numeric fields, and pure negative boolean queries
   * matching "everything but" (ES Queries.fixNegativeQueryIfNeeded).
   */
  static final class EsQueryParser extends QueryParser {
    private final Set<String> numericFields;

    EsQueryParser(Analyzer analyzer, Set<String> numericFields) {
      super(ALL, analyzer);
      this.numericFields = numericFields;
      setAllowLeadingWildcard(true);
      setDefaultOperator(QueryParser.OR_OPERATOR);
      setAutoGeneratePhraseQueries(false);
      setSplitOnWhitespace(true);
    }

    private static String resolve(String field) {
      return "*".equals(field) ? ALL : field;
    }

    private static Query exists(String path) {
      return new TermQuery(new Term(EXISTS, path));
    }

    @Override
    protected Query getFieldQuery(String field, String queryText, boolean quoted)
        throws ParseException {
      if (EXISTS.equals(field)) {
        return exists(queryText);
      }
      String f = resolve(field);
      // ES query_string: `field:>5`, `field:>=5`, `field:<5`, `field:<=5` (unquoted only).
      if (!quoted && queryText.length() > 1) {
        char c0 = queryText.charAt(0);
        boolean eq = queryText.length() > 2 && queryText.charAt(1) == '=';
        String bound = queryText.substring(eq ? 2 : 1);
        if (c0 == '>') {
          return getRangeQuery(f, bound, null, eq, true);
        } else if (c0 == '<') {
          return getRangeQuery(f, null, bound, true, eq);
        }
      }
      Query q = super.getFieldQuery(f, queryText, quoted);
      if (numericFields.contains(f)) {
        Double d = parseNumber(queryText);
        if (d != null) {
          BooleanQuery.Builder b = new BooleanQuery.Builder();
          if (q != null) {
            b.add(q, BooleanClause.Occur.SHOULD);
          }
          b.add(DoublePoint.newExactQuery(f, d), BooleanClause.Occur.SHOULD);
          return b.build();
        }
      }
      return q;
    }

    @Override
    protected Query getWildcardQuery(String field, String termStr) throws ParseException {
      if (EXISTS.equals(field)) {
        return new WildcardQuery(new Term(EXISTS, termStr));
      }
      if ("*".equals(termStr)) {
        if ("*".equals(field) || ALL.equals(field)) {
          return new MatchAllDocsQuery();
        }
        return exists(field); // ES: field:* is an exists query
      }
      return super.getWildcardQuery(resolve(field), termStr);
    }

    @Override
    protected Query getPrefixQuery(String field, String termStr) throws ParseException {
      if (EXISTS.equals(field)) {
        return new PrefixQuery(new Term(EXISTS, termStr));
      }
      return super.getPrefixQuery(resolve(field), termStr);
    }

    @Override
    protected Query getRegexpQuery(String field, String termStr) throws ParseException {
      if (EXISTS.equals(field)) {
        return new RegexpQuery(new Term(EXISTS, termStr));
      }
      return super.getRegexpQuery(resolve(field), termStr);
    }

    @Override
    protected Query getFuzzyQuery(String field, String termStr, float minSimilarity)
        throws ParseException {
      return super.getFuzzyQuery(resolve(field), termStr, minSimilarity);
    }

    @Override
    protected Query getRangeQuery(
        String field, String part1, String part2, boolean startInclusive, boolean endInclusive)
        throws ParseException {
      String f = resolve(field);
      if (numericFields.contains(f)) {
        Double lo = part1 == null ? null : parseNumber(part1);
        Double hi = part2 == null ? null : parseNumber(part2);
        boolean loOk = part1 == null || lo != null;
        boolean hiOk = part2 == null || hi != null;
        if (loOk && hiOk) {
          double l = lo == null ? Double.NEGATIVE_INFINITY : lo;
          double h = hi == null ? Double.POSITIVE_INFINITY : hi;
          if (lo != null && !startInclusive) {
            l = Math.nextUp(l);
          }
          if (hi != null && !endInclusive) {
            h = Math.nextDown(h);
          }
          return DoublePoint.newRangeQuery(f, l, h);
        }
      }
      return super.getRangeQuery(f, part1, part2, startInclusive, endInclusive);
    }

    @Override
    protected Query getBooleanQuery(List<BooleanClause> clauses) throws ParseException {
      Query q = super.getBooleanQuery(clauses);
      if (q instanceof BooleanQuery) {
        BooleanQuery bq = (BooleanQuery) q;
        boolean allNegative = !bq.clauses().isEmpty();
        for (BooleanClause c : bq.clauses()) {
          if (c.getOccur() != BooleanClause.Occur.MUST_NOT) {
            allNegative = false;
            break;
          }
        }
        if (allNegative) {
          BooleanQuery.Builder b = new BooleanQuery.Builder();
          for (BooleanClause c : bq.clauses()) {
            b.add(c);
          }
          b.add(new MatchAllDocsQuery(), BooleanClause.Occur.FILTER);
          return b.build();
        }
      }
      return q;
    }
  }

  // ---------------------------------------------------------------- protocol

  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length()) {
        char n = s.charAt(++i);
        switch (n) {
          case 'n':
            b.append('\n');
            break;
          case 'r':
            b.append('\r');
            break;
          case 't':
            b.append('\t');
            break;
          default:
            b.append(n);
        }
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\':
          b.append("\\\\");
          break;
        case '\n':
          b.append("\\n");
          break;
        case '\r':
          b.append("\\r");
          break;
        case '\t':
          b.append("\\t");
          break;
        default:
          b.append(c);
      }
    }
    return b.toString();
  }

  /** One flattened value: kind is 'S', 'N', 'B' or 'E'. */
  static final class Entry {
    final char kind;
    final String path;
    final String value;

    Entry(char kind, String path, String value) {
      this.kind = kind;
      this.path = path;
      this.value = value;
    }
  }

  static void runBatch(
      List<List<Entry>> events, List<String> queries, String mode, Writer out)
      throws IOException {
    Analyzer analyzer = analyzer(mode);
    Set<String> numericFields = new HashSet<>();
    for (List<Entry> ev : events) {
      for (Entry e : ev) {
        if (e.kind == 'N') {
          numericFields.add(e.path);
        }
      }
    }
    ByteBuffersDirectory dir = new ByteBuffersDirectory();
    IndexWriterConfig cfg = new IndexWriterConfig(analyzer);
    cfg.setRAMBufferSizeMB(256);
    cfg.setCommitOnClose(true);
    try (IndexWriter w = new IndexWriter(dir, cfg)) {
      int idx = 0;
      for (List<Entry> ev : events) {
        Document doc = new Document();
        doc.add(new NumericDocValuesField(IDX, idx++));
        for (Entry e : ev) {
          if (e.kind == 'E') {
            doc.add(new Field(EXISTS, e.path, KEYWORD));
            continue;
          }
          doc.add(new Field(e.path, e.value, KEYWORD));
          doc.add(new Field(ALL, e.value, KEYWORD));
          if (numericFields.contains(e.path) && e.kind != 'B') {
            // ES coerces numeric strings into numeric fields
            Double d = parseNumber(e.value);
            if (d != null) {
              doc.add(new DoublePoint(e.path, d));
            }
          }
        }
        w.addDocument(doc);
      }
    }
    try (DirectoryReader reader = DirectoryReader.open(dir)) {
      int[] docToEvent = new int[reader.maxDoc()];
      for (LeafReaderContext leaf : reader.leaves()) {
        NumericDocValues dv = leaf.reader().getNumericDocValues(IDX);
        for (int d = 0; d < leaf.reader().maxDoc(); d++) {
          if (dv != null && dv.advanceExact(d)) {
            docToEvent[leaf.docBase + d] = (int) dv.longValue();
          }
        }
      }
      IndexSearcher searcher = new IndexSearcher(reader);
      searcher.setQueryCache(null);
      EsQueryParser parser = new EsQueryParser(analyzer, numericFields);
      StringBuilder line = new StringBuilder();
      for (String qs : queries) {
        line.setLength(0);
        try {
          Query q = parser.parse(qs);
          final List<Integer> hits = new ArrayList<>();
          searcher.search(
              q,
              new SimpleCollector() {
                private int base;

                @Override
                protected void doSetNextReader(LeafReaderContext context) {
                  base = context.docBase;
                }

                @Override
                public void collect(int doc) {
                  hits.add(docToEvent[base + doc]);
                }

                @Override
                public ScoreMode scoreMode() {
                  return ScoreMode.COMPLETE_NO_SCORES;
                }
              });
          hits.sort(null);
          line.append("OK\t");
          for (int i = 0; i < hits.size(); i++) {
            if (i > 0) {
              line.append(' ');
            }
            line.append(hits.get(i));
          }
          line.append('\t').append(escape(q.toString()));
        } catch (Exception | StackOverflowError e) {
          line.setLength(0);
          line.append("ERR\t").append(escape(e.getClass().getSimpleName() + ": " + e.getMessage()));
        }
        line.append('\n');
        out.write(line.toString());
      }
    }
  }

  public static void main(String[] args) throws IOException {
    String maxClauses = System.getenv("SIGIL_LUCENE_MAX_CLAUSES");
    BooleanQuery.setMaxClauseCount(maxClauses == null ? 65536 : Integer.parseInt(maxClauses));
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
    Writer out =
        new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
    out.write("READY\t" + Version.LATEST + "\n");
    out.flush();
    List<List<Entry>> events = new ArrayList<>();
    List<String> queries = new ArrayList<>();
    List<Entry> current = null;
    String error = null;
    String raw;
    while ((raw = in.readLine()) != null) {
      try {
        int tab = raw.indexOf('\t');
        String cmd = tab < 0 ? raw : raw.substring(0, tab);
        String rest = tab < 0 ? "" : raw.substring(tab + 1);
        switch (cmd) {
          case "D":
            current = new ArrayList<>();
            events.add(current);
            break;
          case "S":
          case "N":
          case "B":
            {
              int t2 = rest.indexOf('\t');
              if (current == null || t2 < 0) {
                throw new IllegalArgumentException("bad value line: " + raw);
              }
              current.add(
                  new Entry(
                      cmd.charAt(0),
                      unescape(rest.substring(0, t2)),
                      unescape(rest.substring(t2 + 1))));
              break;
            }
          case "E":
            if (current == null) {
              throw new IllegalArgumentException("E line before D");
            }
            current.add(new Entry('E', unescape(rest), null));
            break;
          case "Q":
            queries.add(unescape(rest));
            break;
          case "RUN":
            if (error != null) {
              out.write("FATAL\t" + escape(error) + "\n");
            } else {
              try {
                runBatch(events, queries, rest, out);
              } catch (Exception e) {
                out.write("FATAL\t" + escape(e.toString()) + "\n");
              }
            }
            out.write("END\n");
            out.flush();
            events.clear();
            queries.clear();
            current = null;
            error = null;
            break;
          default:
            throw new IllegalArgumentException("unknown command: " + cmd);
        }
      } catch (RuntimeException e) {
        if (error == null) {
          error = e.toString();
        }
      }
    }
  }
}
