//! Unit tests of git over SSH: the exec commands it takes, and the host key it keeps.

use super::*;

fn request(service: Service, repository: &str) -> Option<GitRequest> {
    Some(GitRequest { service, repository: repository.to_owned() })
}

#[test]
fn git_commands_are_read_as_git_sends_them_and_in_their_other_spellings() {
    use Service::{ReceivePack, UploadPack};
    let cases: &[(&str, Option<GitRequest>)] = &[
        ("git-upload-pack '/v1/repos/r'", request(UploadPack, "r")),
        ("git-receive-pack '/v1/repos/my-repo.x_1'", request(ReceivePack, "my-repo.x_1")),
        ("git-upload-pack 'v1/repos/r'", request(UploadPack, "r")),
        ("git-upload-pack /v1/repos/r", request(UploadPack, "r")),
        ("git-upload-pack v1/repos/r/", request(UploadPack, "r")),
        ("git upload-pack '/v1/repos/r'", request(UploadPack, "r")),
        ("git receive-pack '/v1/repos/r'", request(ReceivePack, "r")),
        ("  git-upload-pack '/v1/repos/r'\n", request(UploadPack, "r")),
        // A quote inside the path, as git quotes it: not a repository name, refused later.
        ("git-upload-pack '/v1/repos/a'\\''b'", request(UploadPack, "a'b").filter(|_| false)),
    ];
    for (command, expected) in cases {
        assert_eq!(&parse_command(command.as_bytes()), expected, "{command}");
    }
}

#[test]
fn anything_but_a_git_service_on_a_repository_is_refused() {
    for command in [
        "",
        "ls",
        "sh -c 'git-upload-pack /v1/repos/r'",
        "git-upload-archive '/v1/repos/r'",
        "git-upload-pack",
        "git-upload-pack ''",
        "git-upload-pack '/v1/repos/'",
        "git-upload-pack '/srv/r.git'",
        "git-upload-pack '/v1/repos/r'; rm -rf /",
        "git-upload-pack '/v1/repos/a/b'",
        "git-upload-pack '/v1/repos/r",
        "git-upload-pack \"/v1/repos/r\"",
        "git-upload-pack /v1/repos/r x",
        "git push '/v1/repos/r'",
    ] {
        assert_eq!(parse_command(command.as_bytes()), None, "{command}");
    }
    assert_eq!(parse_command(b"git-upload-pack '/v1/repos/\xff'"), None);
}

#[test]
fn the_host_key_is_made_once_private_and_then_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let made = host_key(dir.path()).unwrap();
    let path = dir.path().join(HOST_KEY_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(made.algorithm(), Algorithm::Ed25519);
    let again = host_key(dir.path()).unwrap();
    assert_eq!(made.public_key(), again.public_key());
    std::fs::write(&path, "not a key").unwrap();
    assert!(matches!(host_key(dir.path()), Err(ServerError::Crypto(_))));
}
