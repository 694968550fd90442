#!/bin/sh
# A stand-in for a test runner: prints a JUnit XML report.
cat <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="app" tests="2" failures="0" time="0.003">
  <testcase classname="app.main" name="prints the version" time="0.001"/>
  <testcase classname="app.main" name="exits zero" time="0.002"/>
</testsuite>
XML
