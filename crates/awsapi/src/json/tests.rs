//! Typed inputs: a member of the wrong type names its path.

use serde::Deserialize;
use serde_json::json;

use super::typed;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Variable {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Input {
    project_name: Option<String>,
    #[serde(default)]
    environment_variables: Vec<Variable>,
}

#[test]
fn a_typed_input_reads_botocore_names_and_names_a_bad_member() {
    let input: Input = typed(json!({ "projectName": "web" })).unwrap();
    assert_eq!(input, Input { project_name: Some("web".into()), environment_variables: vec![] });

    let bad = json!({ "environmentVariables": [{ "name": "A", "value": "1" }, { "name": "B", "value": 2 }] });
    let err = typed::<Input>(bad).unwrap_err();
    assert_eq!(err.code, "SerializationException");
    assert!(err.message.contains("environmentVariables[1].value"), "{}", err.message);
    assert!(err.message.contains("expected a string"), "{}", err.message);
}
