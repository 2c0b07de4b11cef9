//! The example function in the layer form, for users who build their own
//! `lambda_runtime::Runtime`: the handler wrapper plus the outer layer, served with the
//! sequential `Runtime::run`.
fn main() -> Result<(), lambda_runtime::Error> {
    let shield = fnshield::Shield::builder().build()?;
    shield.install()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        lambda_runtime::Runtime::new(shield.wrap(lambda_runtime::service_fn(examples::handler)))
            .layer(shield.layer())
            .run()
            .await
    })
}
