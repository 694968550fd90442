//! The Query wire: form members into typed inputs (lists, maps, structures, numbers,
//! booleans, missing and wrong members), typed outputs into XML, and the error XML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

fn form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|it| !it.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Limits {
    max_items: Option<i32>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Input {
    user_name: String,
    path: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    tag_keys: Vec<String>,
    attributes: Option<BTreeMap<String, String>>,
    limits: Option<Limits>,
    max_items: Option<u32>,
    is_truncated: Option<bool>,
}

#[test]
fn members_become_the_typed_input() {
    let input: Input = super::input(&form(
        "Action=CreateUser&Version=2010-05-08&UserName=ada&Path=%2F&\
         Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1&\
         TagKeys.member.10=ten&TagKeys.member.9=nine&\
         Attributes.entry.1.key=k&Attributes.entry.1.value=v&\
         Limits.MaxItems=5&Limits.Enabled=true&MaxItems=100&IsTruncated=false&Unknown=x",
    ))
    .unwrap();
    assert_eq!(
        input,
        Input {
            user_name: "ada".into(),
            path: Some("%2F".into()),
            tags: vec![
                Tag { key: "a".into(), value: "1".into() },
                Tag { key: "b".into(), value: "2".into() },
            ],
            tag_keys: vec!["nine".into(), "ten".into()],
            attributes: Some(BTreeMap::from([("k".into(), "v".into())])),
            limits: Some(Limits { max_items: Some(5), enabled: Some(true) }),
            max_items: Some(100),
            is_truncated: Some(false),
        }
    );

    // Only the required member; an empty list is `Name=`.
    let input: Input = super::input(&form("UserName=ada&Tags=&Limits=")).unwrap();
    assert_eq!(input.tags, vec![]);
    assert_eq!(input.limits, Some(Limits { max_items: None, enabled: None }));
    assert_eq!((input.path, input.max_items, input.attributes), (None, None, None));
}

/// The member a ValidationError names, with its message.
fn refused(text: &str) -> String {
    let err = super::input::<Input>(&form(text)).unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (crate::ErrorKind::Client, "ValidationError"));
    err.message
}

#[test]
fn a_missing_or_wrong_member_is_a_validation_error_naming_it() {
    assert_eq!(
        refused("Action=GetUser"),
        "1 validation error detected: Value null at 'UserName' failed to satisfy constraint: \
         Member must not be null"
    );
    assert_eq!(
        refused("UserName=a&Tags.member.1.Key=k&Tags.member.2.Key=k&Tags.member.2.Value=v"),
        "1 validation error detected: Value null at 'Tags.member.1.Value' failed to satisfy \
         constraint: Member must not be null"
    );
    assert_eq!(
        refused("UserName=a&MaxItems=many"),
        "1 validation error detected: Value 'many' at 'MaxItems' failed to satisfy constraint: \
         Member must be a non-negative integer"
    );
    assert_eq!(
        refused("UserName=a&MaxItems=-1"),
        "1 validation error detected: Value '-1' at 'MaxItems' failed to satisfy constraint: \
         Member must be a non-negative integer"
    );
    assert_eq!(
        refused("UserName=a&Limits.Enabled=yes"),
        "1 validation error detected: Value 'yes' at 'Limits.Enabled' failed to satisfy \
         constraint: Member must be a boolean"
    );
    assert!(refused("UserName=a&Tags=oops").contains("at 'Tags' failed"));
    assert!(refused("UserName=a&Tags.member.x.Key=k").contains("at 'Tags' failed"));
    assert!(refused("UserName.Deep=a").contains("at 'UserName' failed"));
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    user_name: String,
    create_date: Timestamp,
    password_last_used: Option<Timestamp>,
    tags: Vec<OutTag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OutTag {
    key: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListUsersResult {
    users: Vec<User>,
    is_truncated: bool,
    marker: Option<String>,
    count: u32,
    attributes: BTreeMap<String, String>,
}

#[test]
fn outputs_are_written_as_botocore_reads_them() {
    let result = ListUsersResult {
        users: vec![User {
            user_name: "a<b>&".into(),
            create_date: Timestamp(1_796_292_000_123),
            password_last_used: None,
            tags: vec![OutTag { key: "team".into(), value: "core".into() }],
        }],
        is_truncated: true,
        marker: Some("1".into()),
        count: 7,
        attributes: BTreeMap::from([("k".into(), "v".into())]),
    };
    assert_eq!(
        response(IAM_NAMESPACE, "ListUsers", Some(&result), "req-1").unwrap(),
        "<ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ListUsersResult><Users><member><UserName>a&lt;b&gt;&amp;</UserName>\
         <CreateDate>2026-12-03T10:00:00Z</CreateDate>\
         <Tags><member><Key>team</Key><Value>core</Value></member></Tags></member></Users>\
         <IsTruncated>true</IsTruncated><Marker>1</Marker><Count>7</Count>\
         <Attributes><entry><key>k</key><value>v</value></entry></Attributes>\
         </ListUsersResult>\
         <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ListUsersResponse>"
    );

    // An empty list is an empty element; an action without output has no Result.
    let empty = ListUsersResult {
        users: vec![],
        is_truncated: false,
        marker: None,
        count: 0,
        attributes: BTreeMap::new(),
    };
    assert_eq!(
        contents(&empty).unwrap().unwrap(),
        "<Users></Users><IsTruncated>false</IsTruncated><Count>0</Count><Attributes></Attributes>"
    );
    assert_eq!(
        response::<()>(IAM_NAMESPACE, "DeleteUser", None, "r").unwrap(),
        "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
    );
}

#[test]
fn errors_are_query_error_responses() {
    assert_eq!(
        error_xml(IAM_NAMESPACE, "NoSuchEntity", "The user with name <x> cannot be found.", "r"),
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
         <Type>Sender</Type><Code>NoSuchEntity</Code>\
         <Message>The user with name &lt;x&gt; cannot be found.</Message></Error>\
         <RequestId>r</RequestId></ErrorResponse>"
    );
    assert!(
        error_xml(STS_NAMESPACE, "InternalFailure", "m", "r").contains("<Type>Receiver</Type>")
    );
}

#[test]
fn signature_errors_have_their_query_names() {
    assert_eq!(super::query_code("UnrecognizedClientException"), "InvalidClientTokenId");
    assert_eq!(super::query_code("ExpiredTokenException"), "ExpiredToken");
    assert_eq!(super::query_code("AccessDenied"), "AccessDenied");
}
