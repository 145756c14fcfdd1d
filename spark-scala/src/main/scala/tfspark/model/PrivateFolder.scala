package tfspark.model

import java.io.File
import java.nio.file.{FileAlreadyExistsException, Files, LinkOption, Path}
import java.nio.file.attribute.{PosixFileAttributeView, PosixFilePermission, PosixFilePermissions, UserPrincipal}

import scala.jdk.CollectionConverters._

import org.slf4j.LoggerFactory

import tfspark.errors.TFSparkErrors

/**
 * The model cache folder, private to the user that runs the JVM: no other local user may create,
 * replace or write into it, so no other user can plant a model that tfspark then serves
 * (copies are verified, never trusted: the entries are verified too).
 *
 * A folder is private when it is a real folder (not a symbolic link), owned by this JVM's user,
 * and neither its group nor other users can write to it. The default folder,
 * `${java.io.tmpdir}/tfspark-model-cache-<user>`, is created with mode 0700; if another user
 * created it first, or made it writable to others, it is not used: this JVM uses a fresh private
 * folder instead (deleted at exit, so copies are not shared with other JVMs) and says so once. A
 * folder named by `$TFSPARK_MODEL_CACHE` that is not private is an error: the operator chose it.
 *
 * The temp folder itself must keep other users from renaming what is in it (the sticky bit of
 * `/tmp`); on a file system without POSIX permissions nothing is checked.
 */
object PrivateFolder {

  private val log = LoggerFactory.getLogger(getClass)
  val EnvKey = "TFSPARK_MODEL_CACHE"

  /** This JVM's user, as the file system sees it: the owner of a file this JVM creates. */
  private lazy val me: Option[UserPrincipal] =
    try {
      val probe = Files.createTempFile("tfspark-owner", ".probe")
      try Some(Files.getOwner(probe))
      finally Files.deleteIfExists(probe)
    } catch {
      case _: UnsupportedOperationException | _: java.io.IOException =>
        // No writable temp folder: the name the JVM was started as.
        scala.util
          .Try(java.nio.file.FileSystems.getDefault.getUserPrincipalLookupService.lookupPrincipalByName(System.getProperty("user.name")))
          .toOption
    }

  private def userName: String =
    me.map(_.getName).orElse(sys.props.get("user.name")).getOrElse("user").replaceAll("[^A-Za-z0-9._-]", "_")

  /** The cache folder ([[ModelRepository.localCache]]). */
  def modelCache(): File = sys.env.get(EnvKey).filter(_.nonEmpty) match {
    case Some(configured) =>
      val dir = new File(configured).getAbsoluteFile
      ensure(dir).foreach { why =>
        throw TFSparkErrors.invalidConfig(s"$EnvKey (environment)", dir.getPath, s"a folder private to ${userName}: $why")
      }
      dir
    case None => defaultCache()
  }

  /** The private folders used instead of unsafe default ones, by default folder: one per JVM each. */
  private val fallbacks = new java.util.concurrent.ConcurrentHashMap[File, File]()

  private def defaultCache(): File = {
    val dir = new File(System.getProperty("java.io.tmpdir"), s"tfspark-model-cache-$userName").getAbsoluteFile
    Option(fallbacks.get(dir)).getOrElse {
      ensure(dir) match {
        case None => dir
        case Some(why) =>
          fallbacks.computeIfAbsent(
            dir,
            _ => {
              val fresh = Files.createTempDirectory(dir.toPath.getParent, s"tfspark-model-cache-$userName-").toFile // mode 0700
              sys.addShutdownHook(VerifiedCopy.deleteRecursively(fresh))
              log.warn(s"The model cache folder $dir is not used: $why. This JVM copies models into $fresh instead (deleted at exit).")
              fresh
            }
          )
      }
    }
  }

  /** Makes `dir` (mode 0700) unless it exists; None when it is private to this user, else why not. */
  private[model] def ensure(dir: File): Option[String] = {
    val path = dir.toPath
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      Option(path.getParent).foreach(Files.createDirectories(_))
      try {
        if (posix(path.getParent))
          Files.createDirectory(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
        else Files.createDirectory(path)
      } catch { case _: FileAlreadyExistsException => } // made meanwhile: checked below like any other
    }
    unsafe(path)
  }

  private def posix(p: Path): Boolean = p != null && Files.getFileStore(p).supportsFileAttributeView(classOf[PosixFileAttributeView])

  /** Why `path` is not a folder private to this user, or None. */
  private[model] def unsafe(path: Path): Option[String] =
    if (Files.isSymbolicLink(path)) Some("it is a symbolic link")
    else if (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) Some("it is not a folder")
    else if (!posix(path) || me.isEmpty) None
    else {
      val owner = Files.getOwner(path, LinkOption.NOFOLLOW_LINKS)
      val perms = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS).asScala
      val writable = perms.intersect(Set(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE))
      if (owner != me.get) Some(s"it is owned by ${owner.getName}, not by ${me.get.getName}")
      else if (writable.nonEmpty) Some(s"other users can write to it (mode ${PosixFilePermissions.toString(perms.asJava)})")
      else None
    }
}
