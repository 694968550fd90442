//! Test report files (JUnit XML, Cucumber JSON, TestNG, NUnit, NUnit 3, TRX) into test cases.
