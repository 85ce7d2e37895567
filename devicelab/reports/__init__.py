"""The reports people read, written from one typed run record; and the build-to-build privacy diff.

    model          the run record (verdict.json): builds, handsets, verdicts, findings, coverage, timeline
    collect        analysis results (ScanReport, Flows) into the record, scrubbed
    redaction      every form of the handsets' identifiers replaced by redacted markers
    checks         per handset × check results, shared by JUnit and Allure
    verdict_json   verdict.json written and read back
    junit          JUnit XML;  allure_results / allure_cli: Allure results and Allure's HTML
    html           the self-contained HTML report (templates/)
    evidence       the raw evidence bundle (never a private key)
    output         the guarded output folder and its final audit
    writer         `write_reports`: all of the above for one run
    diff, cli      `devicelab diff`: new hosts, new (host, identifier) pairs, TLS changes
"""
