//! Base64, as the AWS JSON protocol writes blobs and HTTP Basic writes credentials: the one
//! codec is `awsapi::base64`; this name keeps the server's modules' imports.

pub(crate) use awsapi::base64::decode;
#[cfg(test)]
pub(crate) use awsapi::base64::encode;
