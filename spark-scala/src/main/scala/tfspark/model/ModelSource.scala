package tfspark.model

import org.apache.spark.sql.internal.SQLConf

/**
 * The one place a [[ModelReference]] becomes a local model version: a `models:/` reference from
 * the application's MLflow registry ([[MlflowRegistry.configured]]), any other from the folder
 * repository `repository` ([[ModelRepository]]). SQL, the DataFrame API, the Transformer and
 * BatchScore all resolve here, on the driver.
 *
 * @throws tfspark.errors.TFSparkException as [[ModelRepository.resolve]] or [[MlflowRegistry.resolve]]
 *   do, and MLFLOW_NOT_CONFIGURED for a registry reference without a tracking server
 */
object ModelSource {
  def resolve(reference: ModelReference, repository: String, conf: SQLConf = SQLConf.get): ModelLocation =
    if (reference.fromRegistry) MlflowRegistry.configured(reference, conf).resolve(reference)
    else ModelRepository(repository).resolve(reference.name, reference.version)
}
