// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ICredentialRegistry} from "./ICredentialRegistry.sol";

/**
 * @title CanonicalDid
 * @notice Byte check that an issuer URI is a DID in canonical form, so that byte-equality of two
 * admitted URIs is equality of the identities they name. It canonicalises nothing (IDNA and
 * punycode cannot run on chain): the off-chain canonicaliser (registry/core/identity.py) turns
 * every accepted spelling into this form, and any other spelling is refused.
 *
 * Canonical means:
 * - `did:`, a method name of 1+ characters in [a-z0-9], `:`, and a non-empty method-specific id;
 * - method `web`: the id uses only [a-z0-9.-:] and `%` followed by two upper-case hex digits
 *   (did:web encodes a port as `%3A`); no empty segment (`::`, leading or trailing `:`) and no
 *   label starting or ending with `.` (so no trailing dot and no `..`);
 * - any other method: the id uses only DID Core idchars [A-Za-z0-9._-], `:` and `%` followed by
 *   two hex digits, and does not end with `:`.
 * Whitespace and every byte >= 0x80 are refused: internationalised domains arrive as punycode.
 */
library CanonicalDid {
    // Character classes as 256-bit masks: bit `c` is set iff byte `c` is in the class. No bit at
    // or above 0x80 is set, so every non-ASCII byte falls outside every class.
    uint256 private constant _METHOD_CHARS = 0x07fffffe0000000003ff000000000000; // a-z 0-9
    uint256 private constant _WEB_CHARS = 0x07fffffe0000000007ff600000000000; // a-z 0-9 - . :
    uint256 private constant _WEB_SEPARATORS = 0x00000000000000000400400000000000; // . :
    uint256 private constant _ID_CHARS = 0x07fffffe87fffffe07ff600000000000; // A-Z a-z 0-9 - . _ :
    uint256 private constant _HEX_UPPER = 0x000000000000007e03ff000000000000; // 0-9 A-F
    uint256 private constant _HEX = 0x0000007e0000007e03ff000000000000; // 0-9 A-F a-f

    /// @dev True iff `uri` is a DID in canonical form (see above). One pass over the calldata
    /// bytes, each tested against a character-class mask: no memory, no storage. Yul's `and` does
    /// not short-circuit, so a few reads land past the end of `uri` (calldataload pads with
    /// zeros); their values never decide the result, which the loop bounds do.
    function isCanonical(bytes calldata uri) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            let p := uri.offset
            let end := add(p, uri.length)
            // "did:" and at least a 1-byte method, ":" and a 1-byte method-specific id
            if and(gt(uri.length, 6), eq(shr(224, calldataload(p)), 0x6469643a)) {
                p := add(p, 4)
                let method := p
                for {} and(lt(p, end), and(shr(byte(0, calldataload(p)), _METHOD_CHARS), 1)) {
                    p := add(p, 1)
                } {}
                // `p` is at the first byte after the method name: it must be ":" with an id after it
                if and(and(gt(p, method), lt(add(p, 1), end)), eq(byte(0, calldataload(p)), 0x3a)) {
                    let web := and(eq(sub(p, method), 3), eq(shr(232, calldataload(method)), 0x776562))
                    p := add(p, 1)
                    ok := 1
                    switch web
                    case 1 {
                        // did:web: "." and ":" never start the id, never follow one another
                        let lastSeparator := 1
                        for {} lt(p, end) { p := add(p, 1) } {
                            let c := byte(0, calldataload(p))
                            let separator := and(shr(c, _WEB_SEPARATORS), 1)
                            if and(separator, lastSeparator) {
                                ok := 0
                                break
                            }
                            lastSeparator := separator
                            if iszero(and(shr(c, _WEB_CHARS), 1)) {
                                // only "%" and two upper-case hex digits
                                let w := calldataload(add(p, 1))
                                if iszero(
                                    and(
                                        and(eq(c, 0x25), lt(add(p, 2), end)),
                                        and(and(shr(byte(0, w), _HEX_UPPER), shr(byte(1, w), _HEX_UPPER)), 1)
                                    )
                                ) {
                                    ok := 0
                                    break
                                }
                                p := add(p, 2)
                            }
                        }
                        // and never end it
                        if lastSeparator { ok := 0 }
                    }
                    default {
                        for {} lt(p, end) { p := add(p, 1) } {
                            let c := byte(0, calldataload(p))
                            if iszero(and(shr(c, _ID_CHARS), 1)) {
                                // only "%" and two hex digits
                                let w := calldataload(add(p, 1))
                                if iszero(
                                    and(
                                        and(eq(c, 0x25), lt(add(p, 2), end)),
                                        and(and(shr(byte(0, w), _HEX), shr(byte(1, w), _HEX)), 1)
                                    )
                                ) {
                                    ok := 0
                                    break
                                }
                                p := add(p, 2)
                            }
                        }
                        // no trailing ":"
                        if eq(byte(0, calldataload(sub(end, 1))), 0x3a) { ok := 0 }
                    }
                }
            }
        }
    }
}

/**
 * @title CredentialRegistry
 * @notice On-chain anchor for batches of micro-credentials.
 *
 * Issuers (universities, training providers) are admitted by accreditation bodies into an issuer
 * directory. Accreditation bodies are appointed by the registry admin with a directory entry of
 * their own (public name and DID), so that reports can name who admitted an issuer. Each issuer
 * anchors with one active key at a time; keys can be rotated, reassigned by an accreditation body
 * for recovery, and declared compromised from a point in time. For credential format v2 each
 * issuer also records its Ed25519 signing keys (one current at a time, each with the period it
 * was current and an optional compromise time), so a verifier can tell whether a credential's
 * Data Integrity signature was made with the key of the issuer that anchored it. An issuer anchors
 * the Merkle root of a batch of credential digests (OpenZeppelin StandardMerkleTree over `bytes32`
 * values) and may later revoke single credentials (by digest, in its own namespace) or a whole
 * batch. A correction or renewal supersedes a credential: the old digest is revoked (reason 2)
 * and linked on chain to its successor, a credential the same issuer anchored.
 *
 * No personal data is stored: only roots, salted digests, counts, and directory metadata (the
 * public names and DIDs of issuers and accreditation bodies, in canonical form: see
 * {CanonicalDid}).
 *
 * Storage is laid out for gas: the key record read by `anchor` and the batch record written by it
 * each fit in a single slot, and a credential revocation is one slot keyed by (issuerId, digest), so
 * that revoking a credential reads only the sender's key record and the revocation slot itself.
 * See docs/contract.md for the layout and the measured gas figures.
 *
 * The external functions, events, errors and the {Status} enum are declared, with their NatSpec,
 * in {ICredentialRegistry}.
 */
contract CredentialRegistry is ICredentialRegistry, AccessControl {
    /// @notice Role of accreditation bodies: admit, suspend and reinstate issuers, assign keys,
    /// declare keys compromised.
    bytes32 public constant ACCREDITOR_ROLE = keccak256("ACCREDITOR_ROLE");

    // ------------------------------------------------------------------------------------------
    // Storage
    // ------------------------------------------------------------------------------------------

    /// @dev One slot (192 bits), looked up by the signing address. `issuerSuspended` is a
    /// denormalised copy of the issuer's suspension, kept current on the issuer's active key only,
    /// so `anchor` authorises the sender with a single SLOAD.
    struct KeyRecord {
        uint32 issuerId;
        uint32 keyId;
        uint40 activatedAt;
        uint40 retiredAt;
        uint40 compromisedAt;
        bool issuerSuspended;
    }

    /// @dev One slot (200 bits), looked up by key id. `compromisedAt` mirrors the key record so
    /// that `checkCredential` needs one SLOAD to learn whether the anchoring key was compromised.
    struct KeySlot {
        address key;
        uint40 compromisedAt;
    }

    /// @dev Slot 0 (240 bits) holds everything `checkCredential` needs (suspension).
    struct IssuerRecord {
        address admittedBy;
        uint40 admittedAt;
        uint40 suspendedAt;
        address activeKey;
        string name;
        string uri;
    }

    /// @dev Exactly one slot (256 bits), keyed by root.
    struct Batch {
        uint32 issuerId;
        uint32 keyId;
        uint40 anchoredAt;
        uint40 blockNumber;
        uint64 count;
        uint40 revokedAt;
        uint8 revocationReason;
    }

    /// @dev One slot (80 bits), keyed by (issuerId, digest): the issuer's own namespace.
    struct Revocation {
        uint40 revokedAt;
        uint8 reason;
        uint32 keyId;
    }

    /// @dev Two slots, keyed by (issuerId, digest) like the revocation it accompanies: the
    /// successor's digest, then {supersededAt, blockNumber, kind} packed in 88 bits. Cold: written
    /// once per correction or renewal, read by the view only (`checkCredential` sees the
    /// revocation).
    struct Supersession {
        bytes32 newDigest;
        uint40 supersededAt;
        uint40 blockNumber;
        uint8 kind;
    }

    /// @dev Directory entry of an accreditation body, keyed by its address. Never deleted: a body
    /// whose role is revoked keeps its name, so the issuers it admitted stay nameable.
    struct AccreditorRecord {
        uint40 appointedAt;
        string name;
        string uri;
    }

    /// @dev One slot (152 bits), keyed by the Ed25519 public key. Never deleted, so a key is
    /// never registered twice; `until` is set when the issuer's next signing key replaces it.
    struct SigningKeyRecord {
        uint32 issuerId;
        uint40 since;
        uint40 until;
        uint40 compromisedSince;
    }

    // Bit offsets of the packed records, for the hot paths that read or write a whole slot at once.
    // Solidity packs struct members from the low-order end of the slot, in declaration order; the
    // tests read every field back through the typed views.
    uint256 private constant _KEY_ID = 32;
    uint256 private constant _KEY_RETIRED = 104;
    uint256 private constant _KEY_COMPROMISED_AT = 144;
    uint256 private constant _BATCH_KEY_ID = 32;
    uint256 private constant _BATCH_ANCHORED_AT = 64;
    uint256 private constant _BATCH_BLOCK = 104;
    uint256 private constant _BATCH_COUNT = 144;
    uint256 private constant _BATCH_REVOKED_AT = 208;
    uint256 private constant _REV_REASON = 40;
    uint256 private constant _REV_KEY_ID = 48;
    uint256 private constant _SIGNING_SINCE = 32;
    uint256 private constant _LOW64 = type(uint64).max;

    // Supersession kinds and the revocation reason a supersession writes (docs/contract.md).
    uint8 private constant _CORRECTION = 1;
    uint8 private constant _RENEWAL = 2;
    uint8 private constant _SUPERSEDED_REASON = 2;
    uint256 private constant _MAX_SUCCESSOR_ID_LENGTH = 256;

    uint32 private _issuerCount;
    uint32 private _keyCount;
    mapping(uint32 issuerId => IssuerRecord) private _issuers;
    mapping(bytes32 uriHash => uint32 issuerId) private _issuerIdByUriHash;
    mapping(address key => KeyRecord) private _keys;
    mapping(uint32 keyId => KeySlot) private _keyById;
    mapping(bytes32 root => Batch) private _batches;
    mapping(uint32 issuerId => mapping(bytes32 digest => Revocation)) private _revocations;
    mapping(address account => AccreditorRecord) private _accreditors;
    mapping(bytes32 publicKey => SigningKeyRecord) private _signingKeys;
    mapping(uint32 issuerId => bytes32 publicKey) private _currentSigningKey;
    mapping(uint32 issuerId => mapping(bytes32 digest => Supersession)) private _supersessions;

    /**
     * @param admin Receives DEFAULT_ADMIN_ROLE, which grants and revokes ACCREDITOR_ROLE.
     */
    constructor(address admin) {
        if (admin == address(0)) revert InvalidKey(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------------------------------
    // Accreditation bodies
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    /// @dev Named for its selector, 0x006fdf2e: the dispatcher compares selectors in sorted order,
    /// and one sorting below revokeCredential's (0x04211749) keeps that hot path's dispatch as
    /// short as before (`appointAccreditor` would have cost every revocation ~22 gas more, over
    /// its 48,000 budget). Same argument order as {admitIssuer}.
    function onboardAccreditor(string calldata name, string calldata uri, address account)
        external
        onlyRole(getRoleAdmin(ACCREDITOR_ROLE))
    {
        if (account == address(0)) revert InvalidAccreditor(account);
        if (bytes(name).length == 0) revert EmptyName();
        if (bytes(uri).length == 0) revert EmptyUri();
        if (!_uriAdmissible(uri)) revert NonCanonicalUri(uri);
        _grantRole(ACCREDITOR_ROLE, account);
        AccreditorRecord storage rec = _accreditors[account];
        rec.appointedAt = uint40(block.timestamp);
        rec.name = name;
        rec.uri = uri;
        emit AccreditorAppointed(account, name, uri);
    }

    // ------------------------------------------------------------------------------------------
    // Issuer directory
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    function admitIssuer(string calldata name, string calldata uri, address key)
        external
        onlyRole(ACCREDITOR_ROLE)
        returns (uint32 issuerId)
    {
        if (bytes(name).length == 0) revert EmptyName();
        if (bytes(uri).length == 0) revert EmptyUri();
        if (!_uriAdmissible(uri)) revert NonCanonicalUri(uri);
        bytes32 uriHash = keccak256(bytes(uri));
        uint32 existing = _issuerIdByUriHash[uriHash];
        if (existing != 0) revert UriAlreadyRegistered(uri, existing);
        _requireFreshKey(key);

        issuerId = ++_issuerCount;
        _issuerIdByUriHash[uriHash] = issuerId;
        IssuerRecord storage rec = _issuers[issuerId];
        rec.admittedBy = msg.sender;
        rec.admittedAt = uint40(block.timestamp);
        rec.name = name;
        rec.uri = uri;
        uint32 keyId = _activateKey(issuerId, key, false);
        emit IssuerAdmitted(issuerId, key, msg.sender, keyId, name, uri);
    }

    /**
     * @dev Whether `uri` may be admitted (for an issuer or an accreditation body): a canonical
     * DID ({CanonicalDid}). Virtual only so that a test contract can stand in for a deployment
     * that predates the rule.
     */
    function _uriAdmissible(string calldata uri) internal pure virtual returns (bool) {
        return CanonicalDid.isCanonical(bytes(uri));
    }

    /// @inheritdoc ICredentialRegistry
    function suspendIssuer(uint32 issuerId) external onlyRole(ACCREDITOR_ROLE) {
        IssuerRecord storage rec = _existingIssuer(issuerId);
        if (rec.suspendedAt != 0) revert SuspendedIssuer(issuerId);
        rec.suspendedAt = uint40(block.timestamp);
        _keys[rec.activeKey].issuerSuspended = true;
        emit IssuerSuspended(issuerId, msg.sender);
    }

    /// @inheritdoc ICredentialRegistry
    function reinstateIssuer(uint32 issuerId) external onlyRole(ACCREDITOR_ROLE) {
        IssuerRecord storage rec = _existingIssuer(issuerId);
        if (rec.suspendedAt == 0) revert IssuerNotSuspended(issuerId);
        rec.suspendedAt = 0;
        _keys[rec.activeKey].issuerSuspended = false;
        emit IssuerReinstated(issuerId, msg.sender);
    }

    // ------------------------------------------------------------------------------------------
    // Keys
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    function rotateKey(address newKey) external {
        KeyRecord storage k = _keys[msg.sender];
        uint32 issuerId = k.issuerId;
        if (issuerId == 0) revert UnknownKey(msg.sender);
        if (k.retiredAt != 0) revert KeyRetired(msg.sender);
        if (k.compromisedAt != 0) revert CompromisedKey(msg.sender);
        _replaceKey(issuerId, newKey);
    }

    /// @inheritdoc ICredentialRegistry
    function assignKey(uint32 issuerId, address newKey) external onlyRole(ACCREDITOR_ROLE) {
        _existingIssuer(issuerId);
        _replaceKey(issuerId, newKey);
    }

    /// @inheritdoc ICredentialRegistry
    function declareKeyCompromised(address key, uint40 since) external {
        KeyRecord storage k = _keys[key];
        uint32 issuerId = k.issuerId;
        if (issuerId == 0) revert UnknownKey(key);
        if (!hasRole(ACCREDITOR_ROLE, msg.sender) && (msg.sender == key || !_isActiveKeyOf(issuerId))) {
            revert UnauthorizedCompromiseDeclaration(msg.sender, key);
        }
        _requireCompromiseTime(since);
        uint40 previous = k.compromisedAt;
        if (previous != 0 && since >= previous) revert KeyAlreadyCompromised(key, previous);
        k.compromisedAt = since;
        _keyById[k.keyId].compromisedAt = since;
        emit KeyCompromised(key, issuerId, since, msg.sender);
    }

    // ------------------------------------------------------------------------------------------
    // Signing keys
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    /// @dev Three cold slots: the caller's key record (authorised exactly as in {anchor}), the
    /// new key's record (the never-registered check, then written whole) and the issuer's current
    /// key; a replacement also sets `until` in the previous key's record.
    function setSigningKey(bytes32 publicKey) external {
        uint256 k = _loadKey(msg.sender);
        if (uint32(k) == 0 || k >> _KEY_RETIRED != 0) _revertCannotAnchor(k);
        if (publicKey == 0) revert InvalidSigningKey(publicKey);
        SigningKeyRecord storage rec = _signingKeys[publicKey];
        uint32 holder = rec.issuerId;
        if (holder != 0) revert SigningKeyAlreadyRegistered(publicKey, holder);
        uint32 issuerId = uint32(k);
        bytes32 previous = _currentSigningKey[issuerId];
        if (previous != 0) _signingKeys[previous].until = uint40(block.timestamp);
        // SigningKeyRecord {issuerId, since: now, until: 0, compromisedSince: 0}, one SSTORE.
        uint256 packed = uint256(issuerId) | (uint256(uint40(block.timestamp)) << _SIGNING_SINCE);
        assembly ("memory-safe") {
            sstore(rec.slot, packed)
        }
        _currentSigningKey[issuerId] = publicKey;
        emit SigningKeySet(issuerId, publicKey, previous);
    }

    /// @inheritdoc ICredentialRegistry
    function declareSigningKeyCompromised(bytes32 publicKey, uint40 since) external {
        SigningKeyRecord storage rec = _signingKeys[publicKey];
        uint32 issuerId = rec.issuerId;
        if (issuerId == 0) revert UnknownSigningKey(publicKey);
        if (!hasRole(ACCREDITOR_ROLE, msg.sender) && !_isActiveKeyOf(issuerId)) {
            revert UnauthorizedSigningKeyCompromise(msg.sender, publicKey);
        }
        _requireCompromiseTime(since);
        uint40 previous = rec.compromisedSince;
        if (previous != 0 && since >= previous) revert SigningKeyAlreadyCompromised(publicKey, previous);
        rec.compromisedSince = since;
        emit SigningKeyCompromised(publicKey, issuerId, since, msg.sender);
    }

    // ------------------------------------------------------------------------------------------
    // Anchoring and revocation
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    function anchor(bytes32 root, uint64 count, bytes32 metadataHash) external {
        uint256 k = _loadKey(msg.sender);
        // retiredAt, compromisedAt and issuerSuspended are the bits at and above _KEY_RETIRED:
        // all three are zero exactly when the key may anchor.
        if (uint32(k) == 0 || k >> _KEY_RETIRED != 0) _revertCannotAnchor(k);
        if (root == 0 || count == 0) revert InvalidBatch(root, count);
        Batch storage b = _batches[root];
        uint256 existing;
        assembly ("memory-safe") {
            existing := sload(b.slot)
        }
        if (existing != 0) revert RootAlreadyAnchored(root);
        // issuerId and keyId are the low 64 bits of the key record and of the batch record.
        uint256 packed = (k & _LOW64) | (uint256(uint40(block.timestamp)) << _BATCH_ANCHORED_AT)
            | (uint256(uint40(block.number)) << _BATCH_BLOCK) | (uint256(count) << _BATCH_COUNT);
        assembly ("memory-safe") {
            sstore(b.slot, packed)
        }
        emit BatchAnchored(root, uint32(k), uint32(k >> _KEY_ID), count, metadataHash);
    }

    /// @inheritdoc ICredentialRegistry
    /// @dev Hot path, written in assembly for the ≤ 48,000 gas budget (docs/contract.md): two cold
    /// slots (the key record and the revocation slot), one SSTORE, one LOG2, then STOP.
    function revokeCredential(bytes32 digest, uint8 reason) external {
        bytes32 topic0 = CredentialRevoked.selector;
        uint256 k;
        assembly ("memory-safe") {
            // The caller's key record _keys[caller] (one word, see the bit offsets above).
            mstore(0x00, caller())
            mstore(0x20, _keys.slot)
            k := sload(keccak256(0x00, 0x40))
            let issuerId := and(k, 0xffffffff)
            // Proceed unless the caller is no key (issuerId 0) or a compromised one.
            if iszero(or(iszero(issuerId), and(shr(_KEY_COMPROMISED_AT, k), 0xffffffffff))) {
                // _revocations[issuerId][digest] is at keccak256(digest . keccak256(issuerId . slot)).
                mstore(0x00, issuerId)
                mstore(0x20, _revocations.slot)
                mstore(0x20, keccak256(0x00, 0x40))
                mstore(0x00, digest)
                let slot := keccak256(0x00, 0x40)
                if iszero(sload(slot)) {
                    // Revocation {revokedAt: now, reason, keyId}, as _revocationValue(k, reason):
                    // keyId is bits [32,64) of k, moved to [48,80).
                    sstore(
                        slot,
                        or(
                            or(and(timestamp(), 0xffffffffff), shl(_REV_REASON, reason)),
                            shl(16, and(k, 0xffffffff00000000)) // 16 = _REV_KEY_ID - _KEY_ID
                        )
                    )
                    // CredentialRevoked(issuerId, digest): the digest is still at 0x00.
                    log2(0x00, 0x20, topic0, issuerId)
                    // Done: skip the failure path below (nothing is returned).
                    stop()
                }
            }
        }
        // Reached only on failure: unknown or compromised key, or already revoked.
        _revertCannotRevoke(k, digest);
    }

    /// @inheritdoc ICredentialRegistry
    function revokeCredentials(bytes32[] calldata digests, uint8 reason) external {
        if (digests.length == 0) revert NoDigests();
        uint256 k = _revokerKey();
        uint256 value = _revocationValue(k, reason);
        uint256 issuerId = uint32(k);
        mapping(bytes32 => Revocation) storage byDigest = _revocations[uint32(k)];
        bytes32 topic0 = CredentialRevoked.selector;
        bytes32 duplicate;
        bool failed;
        assembly ("memory-safe") {
            // Slot of byDigest[d] is keccak256(d . byDigest.slot); scratch space 0x00-0x3f holds the
            // pair. Each CredentialRevoked(issuerId, digest) is LOG2 over the digest at 0x00.
            mstore(0x20, byDigest.slot)
            let end := add(digests.offset, shl(5, digests.length))
            for { let p := digests.offset } lt(p, end) { p := add(p, 0x20) } {
                let d := calldataload(p)
                mstore(0x00, d)
                let slot := keccak256(0x00, 0x40)
                if sload(slot) {
                    duplicate := d
                    failed := 1
                    break
                }
                sstore(slot, value)
                log2(0x00, 0x20, topic0, issuerId) // data: d, still at 0x00
            }
        }
        if (failed) revert CredentialAlreadyRevoked(uint32(k), duplicate);
    }

    /// @inheritdoc ICredentialRegistry
    function revokeBatch(bytes32 root, uint8 reason) external {
        uint32 keyId = _authorizeRevoker(root);
        Batch storage b = _batches[root];
        if (b.revokedAt != 0) revert BatchAlreadyRevoked(root);
        b.revokedAt = uint40(block.timestamp);
        b.revocationReason = reason;
        emit BatchRevoked(root, keyId, reason);
    }

    /// @inheritdoc ICredentialRegistry
    /// @dev Cold path (one transaction per correction or renewal): the caller's key record, the
    /// successor's batch record, the revocation slot, written with the very value
    /// {revokeCredential} writes for reason 2, and the two-slot supersession record.
    function supersedeCredential(
        bytes32 digest,
        bytes32 newRoot,
        bytes32 newDigest,
        bytes32[] calldata proof,
        uint8 kind,
        string calldata newId
    ) external {
        uint256 k = _revokerKey();
        _requireSupersessionArgs(digest, newDigest, kind, bytes(newId).length);
        uint32 issuerId = uint32(k);
        _requireSuccessor(issuerId, newRoot, newDigest, proof);
        _revokeSuperseded(k, digest);
        _supersessions[issuerId][digest] = Supersession({
            newDigest: newDigest,
            supersededAt: uint40(block.timestamp),
            blockNumber: uint40(block.number),
            kind: kind
        });
        emit CredentialRevoked(issuerId, digest);
        emit CredentialSuperseded(issuerId, digest, newDigest, newRoot, kind, newId);
    }

    // ------------------------------------------------------------------------------------------
    // Verification
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    function checkCredential(bytes32 root, bytes32 digest, bytes32[] calldata proof)
        external
        view
        returns (Status status)
    {
        Batch storage bref = _batches[root];
        uint256 b;
        bytes32 leaf;
        assembly ("memory-safe") {
            b := sload(bref.slot)
            // StandardMerkleTree leaf of a bytes32 value: keccak256(keccak256(abi.encode(digest))).
            mstore(0x00, digest)
            mstore(0x00, keccak256(0x00, 0x20))
            leaf := keccak256(0x00, 0x20)
        }
        if (b == 0) return Status.UnknownRoot;
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) return Status.BadProof;
        // A credential revocation is looked up in the namespace of the issuer that anchored `root`.
        if (uint40(b >> _BATCH_REVOKED_AT) != 0 || _revocations[uint32(b)][digest].revokedAt != 0) {
            return Status.Revoked;
        }
        uint40 compromisedAt = _keyById[uint32(b >> _BATCH_KEY_ID)].compromisedAt;
        if (compromisedAt != 0 && uint40(b >> _BATCH_ANCHORED_AT) >= compromisedAt) {
            return Status.KeyCompromised;
        }
        if (_issuers[uint32(b)].suspendedAt != 0) return Status.IssuerSuspended;
        return Status.Valid;
    }

    // ------------------------------------------------------------------------------------------
    // Views (never revert; zero values mean "unknown")
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ICredentialRegistry
    function issuerCount() external view returns (uint32) {
        return _issuerCount;
    }

    /// @inheritdoc ICredentialRegistry
    function keyCount() external view returns (uint32) {
        return _keyCount;
    }

    /// @inheritdoc ICredentialRegistry
    function issuer(uint32 issuerId)
        external
        view
        returns (
            string memory name,
            string memory uri,
            address admittedBy,
            uint40 admittedAt,
            uint40 suspendedAt,
            address activeKey
        )
    {
        IssuerRecord storage rec = _issuers[issuerId];
        return (rec.name, rec.uri, rec.admittedBy, rec.admittedAt, rec.suspendedAt, rec.activeKey);
    }

    /// @inheritdoc ICredentialRegistry
    function accreditor(address account)
        external
        view
        returns (string memory name, string memory uri, uint40 appointedAt)
    {
        AccreditorRecord storage rec = _accreditors[account];
        return (rec.name, rec.uri, rec.appointedAt);
    }

    /// @inheritdoc ICredentialRegistry
    function issuerIdByUri(string calldata uri) external view returns (uint32) {
        return _issuerIdByUriHash[keccak256(bytes(uri))];
    }

    /// @inheritdoc ICredentialRegistry
    function keyInfo(address key)
        external
        view
        returns (
            uint32 issuerId,
            uint32 keyId,
            uint40 activatedAt,
            uint40 retiredAt,
            uint40 compromisedAt,
            bool issuerSuspended
        )
    {
        KeyRecord memory k = _keys[key];
        issuerSuspended = k.issuerId != 0 && _issuers[k.issuerId].suspendedAt != 0;
        return (k.issuerId, k.keyId, k.activatedAt, k.retiredAt, k.compromisedAt, issuerSuspended);
    }

    /// @inheritdoc ICredentialRegistry
    function keyAddress(uint32 keyId) external view returns (address) {
        return _keyById[keyId].key;
    }

    /// @inheritdoc ICredentialRegistry
    function batch(bytes32 root)
        external
        view
        returns (
            uint32 issuerId,
            uint32 keyId,
            uint40 anchoredAt,
            uint40 blockNumber,
            uint64 count,
            uint40 revokedAt,
            uint8 revocationReason
        )
    {
        Batch memory b = _batches[root];
        return (b.issuerId, b.keyId, b.anchoredAt, b.blockNumber, b.count, b.revokedAt, b.revocationReason);
    }

    /// @inheritdoc ICredentialRegistry
    function credentialRevocation(uint32 issuerId, bytes32 digest)
        external
        view
        returns (uint40 revokedAt, uint8 reason, uint32 keyId)
    {
        Revocation memory r = _revocations[issuerId][digest];
        return (r.revokedAt, r.reason, r.keyId);
    }

    /// @inheritdoc ICredentialRegistry
    function supersession(uint32 issuerId, bytes32 digest)
        external
        view
        returns (bytes32 newDigest, uint40 supersededAt, uint40 blockNumber, uint8 kind)
    {
        Supersession memory s = _supersessions[issuerId][digest];
        return (s.newDigest, s.supersededAt, s.blockNumber, s.kind);
    }

    /// @inheritdoc ICredentialRegistry
    function signingKey(bytes32 publicKey)
        external
        view
        returns (uint32 issuerId, uint40 since, uint40 until, uint40 compromisedSince)
    {
        SigningKeyRecord memory r = _signingKeys[publicKey];
        return (r.issuerId, r.since, r.until, r.compromisedSince);
    }

    /// @inheritdoc ICredentialRegistry
    /// @dev Named for its selector, 0x03fd3b1e (`currentSigningKey(uint32)` would be 0x4957afbf):
    /// the dispatcher compares selectors in sorted order, and with the four signing-key functions
    /// one more selector below revokeCredential's (0x04211749) keeps that hot path at the head
    /// of its dispatch group, as before, within its 48,000 budget (docs/contract.md).
    function signingPublicKeyFor(uint32 issuerId) external view returns (bytes32 publicKey) {
        return _currentSigningKey[issuerId];
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _existingIssuer(uint32 issuerId) private view returns (IssuerRecord storage rec) {
        rec = _issuers[issuerId];
        if (rec.admittedAt == 0) revert UnknownIssuer(issuerId);
    }

    /// @dev Whether the caller is the active (not retired), non-compromised key of issuer
    /// `issuerId`: who, besides an accreditation body, may declare the issuer's keys compromised.
    function _isActiveKeyOf(uint32 issuerId) private view returns (bool) {
        KeyRecord storage s = _keys[msg.sender];
        return s.issuerId == issuerId && s.retiredAt == 0 && s.compromisedAt == 0;
    }

    /// @dev A declared compromise time must be in (0, now].
    function _requireCompromiseTime(uint40 since) private view {
        if (since == 0 || since > block.timestamp) revert InvalidCompromiseTime(since);
    }

    function _requireFreshKey(address key) private view {
        if (key == address(0)) revert InvalidKey(key);
        if (_keys[key].issuerId != 0) revert KeyAlreadyRegistered(key);
    }

    function _activateKey(uint32 issuerId, address key, bool suspended) private returns (uint32 keyId) {
        keyId = ++_keyCount;
        _keys[key] = KeyRecord({
            issuerId: issuerId,
            keyId: keyId,
            activatedAt: uint40(block.timestamp),
            retiredAt: 0,
            compromisedAt: 0,
            issuerSuspended: suspended
        });
        _keyById[keyId] = KeySlot({key: key, compromisedAt: 0});
        _issuers[issuerId].activeKey = key;
    }

    function _replaceKey(uint32 issuerId, address newKey) private {
        _requireFreshKey(newKey);
        IssuerRecord storage rec = _issuers[issuerId];
        address previous = rec.activeKey;
        KeyRecord storage old = _keys[previous];
        old.retiredAt = uint40(block.timestamp);
        old.issuerSuspended = false;
        uint32 keyId = _activateKey(issuerId, newKey, rec.suspendedAt != 0);
        emit KeyRotated(issuerId, previous, newKey, keyId, msg.sender);
    }

    /// @dev Reverts unless `root` is anchored and the caller is a registered, non-compromised key
    /// of the issuer that anchored it; returns the caller's key id. Two SLOADs: the batch record
    /// and the caller's key record (needed for the compromise check, see docs/contract.md).
    function _authorizeRevoker(bytes32 root) private view returns (uint32 keyId) {
        Batch storage bref = _batches[root];
        uint256 b;
        assembly ("memory-safe") {
            b := sload(bref.slot)
        }
        if (b == 0) revert UnknownRoot(root);
        uint256 k = _loadKey(msg.sender);
        if (uint32(k) != uint32(b)) revert NotBatchIssuer(msg.sender, root);
        if (uint40(k >> _KEY_COMPROMISED_AT) != 0) revert CompromisedKey(msg.sender);
        return uint32(k >> _KEY_ID);
    }

    /// @dev The whole key record of `key` as one word (see the bit offsets above).
    function _loadKey(address key) private view returns (uint256 k) {
        KeyRecord storage kref = _keys[key];
        assembly ("memory-safe") {
            k := sload(kref.slot)
        }
    }

    /// @dev The caller's key record as one word; reverts unless the caller is a registered,
    /// non-compromised key (retired keys and keys of suspended issuers pass). One SLOAD.
    function _revokerKey() private view returns (uint256 k) {
        k = _loadKey(msg.sender);
        if (uint32(k) == 0) revert UnknownKey(msg.sender);
        if (uint40(k >> _KEY_COMPROMISED_AT) != 0) revert CompromisedKey(msg.sender);
    }

    /// @dev Packed Revocation {revokedAt: now, reason, keyId} for the key record `k` of the caller.
    function _revocationValue(uint256 k, uint8 reason) private view returns (uint256) {
        return uint256(uint40(block.timestamp)) | (uint256(reason) << _REV_REASON)
            | (uint256(uint32(k >> _KEY_ID)) << _REV_KEY_ID);
    }

    /// @dev Reverts with the reason why the caller, with key record `k`, could not revoke `digest`.
    function _revertCannotRevoke(uint256 k, bytes32 digest) private view {
        if (uint32(k) == 0) revert UnknownKey(msg.sender);
        if (uint40(k >> _KEY_COMPROMISED_AT) != 0) revert CompromisedKey(msg.sender);
        revert CredentialAlreadyRevoked(uint32(k), digest);
    }

    /// @dev Reverts with InvalidSupersession unless `kind` is a known kind, `newDigest` is a real,
    /// different digest and the successor's id has 1 to 256 bytes (`idLength`).
    function _requireSupersessionArgs(bytes32 digest, bytes32 newDigest, uint8 kind, uint256 idLength) private pure {
        if (
            (kind != _CORRECTION && kind != _RENEWAL) || newDigest == 0 || newDigest == digest || idLength == 0
                || idLength > _MAX_SUCCESSOR_ID_LENGTH
        ) revert InvalidSupersession(digest, newDigest);
    }

    /// @dev Reverts with SuccessorNotAnchored unless `newRoot` is a batch anchored by issuer
    /// `issuerId` (an unknown root reads issuer 0), not revoked, and `proof` proves `newDigest` in
    /// it with the StandardMerkleTree leaf {checkCredential} uses; then with SuccessorRevoked if the
    /// issuer has revoked (or superseded) `newDigest`. Two SLOADs: the batch record and the
    /// successor's revocation slot.
    function _requireSuccessor(uint32 issuerId, bytes32 newRoot, bytes32 newDigest, bytes32[] calldata proof)
        private
        view
    {
        Batch storage bref = _batches[newRoot];
        uint256 b;
        assembly ("memory-safe") {
            b := sload(bref.slot)
        }
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(newDigest))));
        if (
            uint32(b) != issuerId || uint40(b >> _BATCH_REVOKED_AT) != 0
                || !MerkleProof.verifyCalldata(proof, newRoot, leaf)
        ) revert SuccessorNotAnchored(newRoot, newDigest);
        if (_revocations[issuerId][newDigest].revokedAt != 0) revert SuccessorRevoked(issuerId, newDigest);
    }

    /// @dev Revokes `digest` in the namespace of key record `k` (the caller's) with reason 2, the
    /// same packed Revocation {revokeCredential} writes; reverts if it is already revoked.
    function _revokeSuperseded(uint256 k, bytes32 digest) private {
        Revocation storage r = _revocations[uint32(k)][digest];
        if (r.revokedAt != 0) revert CredentialAlreadyRevoked(uint32(k), digest);
        uint256 value = _revocationValue(k, _SUPERSEDED_REASON);
        assembly ("memory-safe") {
            sstore(r.slot, value)
        }
    }

    /// @dev Reverts with the reason why key record `k` (of msg.sender) cannot anchor.
    function _revertCannotAnchor(uint256 k) private view {
        if (uint32(k) == 0) revert UnknownKey(msg.sender);
        if (uint40(k >> _KEY_RETIRED) != 0) revert KeyRetired(msg.sender);
        if (uint40(k >> _KEY_COMPROMISED_AT) != 0) revert CompromisedKey(msg.sender);
        revert SuspendedIssuer(uint32(k));
    }
}
