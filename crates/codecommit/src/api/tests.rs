//! Unit tests of CodeCommit's pure parts: commit and diff parsing, path placement.

use serde_json::{Value, json};

use super::parse_commit;

#[test]
fn commits_parse_into_codecommit_shape() {
    let raw = "tree t\nparent p1\nparent p2\nauthor Ada <ada@x> 1 +0000\ncommitter Bob <bob@x> 2 +0100\n\nmessage\n";
    let commit = parse_commit("c", raw);
    assert_eq!(commit.parents, ["p1", "p2"]);
    assert_eq!(commit.author.name.as_deref(), Some("Ada"));
    assert_eq!(commit.author.date.as_deref(), Some("1 +0000"));
    assert_eq!(commit.message, "message\n");
    // The wire JSON is CodeCommit's `Commit`, as it was when it was built by hand.
    assert_eq!(
        serde_json::to_value(&commit).unwrap(),
        json!({
            "commitId": "c",
            "treeId": "t",
            "parents": ["p1", "p2"],
            "message": "message\n",
            "author": { "name": "Ada", "email": "ada@x", "date": "1 +0000" },
            "committer": { "name": "Bob", "email": "bob@x", "date": "2 +0100" },
            "additionalData": "",
        })
    );
    let bare = serde_json::to_value(parse_commit("c", "tree t\n\nm")).unwrap();
    assert_eq!(bare["author"], json!({}), "no author line, no author members");
}

#[test]
fn raw_diffs_become_differences() {
    let z = "0".repeat(40);
    let raw = format!(
        ":000000 100644 {z} aaa A\0new file\0:100644 100755 bbb ccc M\0run.sh\0:100644 000000 ddd {z} D\0gone\0"
    );
    let differences: Vec<Value> = super::read::parse_raw_diff(raw.as_bytes())
        .iter()
        .map(|it| serde_json::to_value(it).unwrap())
        .collect();
    assert_eq!(differences.len(), 3);
    assert_eq!(
        differences[0],
        json!({ "afterBlob": { "blobId": "aaa", "path": "new file", "mode": "100644" }, "changeType": "A" })
    );
    assert_eq!(differences[1]["beforeBlob"]["mode"], "100644");
    assert_eq!(differences[1]["afterBlob"]["mode"], "100755");
    assert_eq!(differences[2]["changeType"], "D");
    assert!(differences[2].get("afterBlob").is_none());
}

#[test]
fn placing_a_file_refuses_file_and_folder_clashes() {
    let mut files = super::write::Files::new();
    files.insert("a/b".to_owned(), ("100644".to_owned(), "x".to_owned()));
    let code = |result: Result<(), awsapi::ApiError>| format!("{:?}", result.unwrap_err());
    assert!(
        code(super::write::place(&mut files, "a", "100644", "y"))
            .contains("FileNameConflictsWithDirectoryNameException")
    );
    assert!(
        code(super::write::place(&mut files, "a/b/c", "100644", "y"))
            .contains("DirectoryNameConflictsWithFileNameException")
    );
    super::write::place(&mut files, "a/c", "100755", "y").unwrap();
    assert_eq!(files.len(), 2);
}

fn caller(host: &str) -> awsapi::Caller {
    awsapi::Caller { user: "admin".to_owned(), access_key_id: String::new(), host: host.to_owned() }
}

#[tokio::test]
async fn parallel_creations_of_one_name_give_one_repository_and_name_exists_errors() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let input = super::CreateRepositoryInput {
                    repository_name: Some("raced".to_owned()),
                    ..Default::default()
                };
                super::create_repository(&ctx, &caller("h"), input, 0).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(err) => assert_eq!(err.code, "RepositoryNameExistsException", "{err:?}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn metadata_has_an_ssh_clone_url_and_no_description_unless_given() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let caller = caller("git.example.com:8080");
    let create = |input: Value| {
        let input = awsapi::json::typed(input).unwrap();
        super::create_repository(&ctx, &caller, input, 0)
    };
    let plain = create(json!({ "repositoryName": "a" })).await.unwrap();
    let metadata = &plain.repository_metadata;
    assert!(metadata.get("repositoryDescription").is_none(), "{metadata}");
    assert_eq!(metadata["cloneUrlSsh"], "ssh://git.example.com/v1/repos/a");
    assert_eq!(metadata["cloneUrlHttp"], "http://git.example.com:8080/v1/repos/a");
    let input = json!({ "repositoryName": "b", "repositoryDescription": "" });
    let described = create(input).await.unwrap();
    assert_eq!(described.repository_metadata["repositoryDescription"], "");
    let input = super::GetRepositoryInput { repository_name: Some("a".to_owned()) };
    let got = super::get_repository(&ctx, &caller, input).await.unwrap().repository_metadata;
    assert!(got.get("repositoryDescription").is_none());
    assert_eq!(got["cloneUrlSsh"], "ssh://git.example.com/v1/repos/a");
    assert_eq!(super::ssh_host("[::1]:8080"), "[::1]");
    assert_eq!(super::ssh_host("::1"), "::1");
    // With git over SSH on, the URL names its port.
    ctx.ssh_port.set(2222).unwrap();
    let get = || super::GetRepositoryInput { repository_name: Some("a".to_owned()) };
    let got = super::get_repository(&ctx, &caller, get()).await.unwrap().repository_metadata;
    assert_eq!(got["cloneUrlSsh"], "ssh://git.example.com:2222/v1/repos/a");
    let v6 = super::get_repository(&ctx, &self::caller("::1"), get()).await.unwrap();
    assert_eq!(v6.repository_metadata["cloneUrlSsh"], "ssh://[::1]:2222/v1/repos/a");
    let v6 = super::get_repository(&ctx, &self::caller("[::1]:8080"), get()).await.unwrap();
    assert_eq!(v6.repository_metadata["cloneUrlSsh"], "ssh://[::1]:2222/v1/repos/a");
}

#[tokio::test]
async fn a_repository_keeps_its_tags_and_its_metadata_does_not_show_them() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let caller = caller("git.example.com");
    let input = awsapi::json::typed(json!({ "repositoryName": "t", "tags": { "team": "a" } }));
    let created = super::create_repository(&ctx, &caller, input.unwrap(), 0).await.unwrap();
    assert!(created.repository_metadata.get(super::SLIPWAY).is_none());
    let stored = ctx.store.get(engine::kinds::REPOSITORY, "t").await.unwrap().unwrap();
    assert_eq!(stored.body[super::SLIPWAY]["tags"], json!({ "team": "a" }));
    let input = super::GetRepositoryInput { repository_name: Some("t".to_owned()) };
    let got = super::get_repository(&ctx, &caller, input).await.unwrap().repository_metadata;
    assert!(got.get(super::SLIPWAY).is_none(), "{got}");
}
