"""Finding personal data in captured traffic: one code path for saved captures and live capture.

    flows        the typed Flow/Request model every capture source is read into
    readers      HAR and mitmproxy flow files into Flows (tolerant of torn files)
    forms        each identifier expanded into every form it can travel in
    numeric      the binary and alphabet encodings forms uses: BCD/TBCD, SIM files, int64, varint, Base32/58, geohash
    matcher      a multi-pattern scan (hyperscan, or Aho-Corasick when hyperscan is missing)
    gate         one hyperscan pass per value: needles and decoder traces, so quiet values are not walked
    decoders     a request taken apart: URL, headers, cookies, bodies decoded recursively, bounded
    segments     what the walker yields (Segment, FieldGroup) and notes, and its Limits
    content      a body's Content-Encoding undone, within the decode budget
    base64_runs  the Base64 runs in a value, and which of them the walker decodes
    percent      %XX escapes undone, and the gate's flags for the result
    parts        one gate pass over a parsed document's or form's parts: which ones the walker visits
    structured   the JSON / form / multipart / cookie / protobuf parsers the decoders use
    compression  bounded gzip / deflate / brotli / zstd
    location     positions near the handset in any numeric form
    findings     what was found where, and how to show it redacted
    verdict      policy + findings + coverage gaps -> pass / fail / inconclusive
    scan         the Analyzer (one Flow in, findings out) and the offline scan of capture files
    report, cli  `devicelab scan` and its JSON / text output
"""
