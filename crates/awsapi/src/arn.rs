//! Amazon Resource Names as Slipway writes them: one partition (`aws`), the server's one
//! region and one account.

/// `arn:aws:<service>:<region>:<account>:<resource>`.
pub fn arn(service: &str, region: &str, account: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{account}:{resource}")
}

/// An IAM user's ARN (IAM is global: no region), `arn:aws:iam::<account>:user/<name>`.
pub fn iam_user(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}
